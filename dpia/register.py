"""The DPIA register: the council-editable YAML that says why, on what basis and for how long.

The YAML (``dpia/register.yaml``, or the file named by ``SAFEGUARD_DPIA_REGISTER``) is loaded
into typed, frozen pydantic models. Mistakes are reported with the YAML path of the bad field
(``assets.flags.personal_data: Input should be a valid boolean``) so that a data protection
officer can fix the file without reading code. Every asset, and through it every asset check,
has one record; :meth:`DpiaRegister.asset_metadata` flattens it into ``dpia/*`` metadata.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

__all__ = [
    "NOT_APPLICABLE",
    "REGISTER_ENV_VAR",
    "AssetRecord",
    "DataCategory",
    "DpiaRegister",
    "DpiaRegisterError",
    "MissingDpiaRecord",
    "ProcessingActivity",
    "RetentionPolicy",
    "UnknownDataCategory",
    "default_register_path",
    "load_register",
]

REGISTER_ENV_VAR = "SAFEGUARD_DPIA_REGISTER"
NOT_APPLICABLE = "not applicable"
"""Value of a ``dpia/*`` condition key when the activity relies on no such condition."""


class DpiaRegisterError(ValueError):
    """The register file is missing, not YAML, or has invalid fields (all named in the message)."""


class MissingDpiaRecord(KeyError):
    """An asset (or dataset) has no record in the register."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


class UnknownDataCategory(KeyError):
    """A data category is not in the register's vocabulary."""

    def __str__(self) -> str:
        return str(self.args[0])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Text = Annotated[str, StringConstraints(min_length=1)]


class Controller(_Model):
    name: Text
    address: Text
    ico_registration: Text


class JointController(_Model):
    name: Text
    role: Text
    contact: Text


class DpoContact(_Model):
    name: Text
    email: Text
    phone: str | None = None
    address: str | None = None


class DpiaDocument(_Model):
    reference: Text
    version: Text
    approved_on: date | None = None
    approved_by: str | None = None
    review_date: date
    owner: Text


class PolicyDocument(_Model):
    reference: Text
    version: Text
    review_date: date
    scope: Text


class Purpose(_Model):
    description: Text


class ProcessingActivity(_Model):
    """One processing activity: what is done, why, and on which legal grounds."""

    description: Text
    purpose: Text
    lawful_basis: Text
    special_category_condition: str | None = None
    criminal_offence_basis: str | None = None
    statutory_gateways: tuple[str, ...] = ()
    recipients: tuple[str, ...] = Field(min_length=1)
    data_subjects: tuple[str, ...] = ()


class DataSharingAgreement(_Model):
    file: Text
    partner: Text
    reference: Text
    signed_on: date
    review_date: date


class DataCategory(_Model):
    """A term of the data-category vocabulary used by asset records."""

    description: Text
    personal: bool
    special_category: bool = False
    criminal_offence: bool = False
    protected_characteristic: bool = False


class RetentionPolicy(_Model):
    """How long a dataset is kept; ``period_months`` is None when it is reviewed, not purged."""

    name: Text
    period_months: int | None = Field(default=None, ge=1)
    starts_from: Text
    action: Literal["delete", "review"]
    description: Text

    @model_validator(mode="after")
    def _delete_needs_period(self) -> RetentionPolicy:
        if self.action == "delete" and self.period_months is None:
            raise ValueError("action 'delete' needs period_months")
        return self

    def summary(self) -> str:
        """Plain-English retention, e.g. ``72 months from the record's event date, then delete``."""
        if self.period_months is None:
            return f"{self.description} ({self.action})"
        return f"{self.period_months} months from {self.starts_from}, then {self.action}"


class AssetRecord(_Model):
    """The register's record for one asset (and, by inheritance, its checks)."""

    description: Text
    processing_activity: Text
    data_categories: tuple[str, ...] = Field(min_length=1)
    personal_data: bool
    pseudonymised: bool
    retention: Text
    store: Literal["landing", "warehouse", "vault", "artefacts", "reports"]
    external: bool = False
    data_sharing_agreement: str | None = None


class InternationalTransfers(_Model):
    any: bool
    detail: Text


class SecurityMeasures(_Model):
    technical: tuple[str, ...] = Field(min_length=1)
    organisational: tuple[str, ...] = Field(min_length=1)


class DpiaRegister(_Model):
    """The whole register; cross-references are checked when it is built."""

    register_version: int
    controller: Controller
    joint_controllers: tuple[JointController, ...]
    dpo: DpoContact
    dpia: DpiaDocument
    appropriate_policy_document: PolicyDocument
    purposes: dict[str, Purpose] = Field(min_length=1)
    processing_activities: dict[str, ProcessingActivity] = Field(min_length=1)
    data_sharing_agreements: dict[str, DataSharingAgreement]
    data_categories: dict[str, DataCategory] = Field(min_length=1)
    prohibited_data: tuple[str, ...]
    retention: dict[str, RetentionPolicy] = Field(min_length=1)
    international_transfers: InternationalTransfers
    security_measures: SecurityMeasures
    assets: dict[str, AssetRecord] = Field(min_length=1)
    _source_path: str = PrivateAttr(default="dpia/register.yaml")

    @model_validator(mode="before")
    @classmethod
    def _name_retention_policies(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("retention"), Mapping):
            named = {
                key: {"name": key, **value} if isinstance(value, Mapping) else value
                for key, value in data["retention"].items()
            }
            data = {**data, "retention": named}
        return data

    @model_validator(mode="after")
    def _check_references(self) -> DpiaRegister:
        problems: list[str] = []
        for name, activity in self.processing_activities.items():
            if activity.purpose not in self.purposes:
                problems.append(
                    f"processing_activities.{name}.purpose: {activity.purpose!r} is not one of "
                    f"purposes ({', '.join(self.purposes)})"
                )
        for name, record in self.assets.items():
            problems.extend(self._asset_problems(name, record))
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    def _asset_problems(self, name: str, record: AssetRecord) -> list[str]:
        where = f"assets.{name}"
        problems: list[str] = []
        activity = self.processing_activities.get(record.processing_activity)
        if activity is None:
            problems.append(
                f"{where}.processing_activity: {record.processing_activity!r} is not one of "
                f"processing_activities ({', '.join(self.processing_activities)})"
            )
        if record.retention not in self.retention:
            problems.append(
                f"{where}.retention: {record.retention!r} is not one of retention "
                f"({', '.join(self.retention)})"
            )
        dsa = record.data_sharing_agreement
        if dsa is not None and dsa not in self.data_sharing_agreements:
            problems.append(f"{where}.data_sharing_agreement: {dsa!r} is not an agreement")
        if record.external and dsa is None:
            problems.append(f"{where}.data_sharing_agreement: external sources need an agreement")
        categories = []
        for i, category in enumerate(record.data_categories):
            if category in self.data_categories:
                categories.append(self.data_categories[category])
            else:
                problems.append(
                    f"{where}.data_categories[{i}]: {category!r} is not in data_categories"
                )
        has_personal = any(c.personal for c in categories)
        if record.personal_data != has_personal:
            problems.append(
                f"{where}.personal_data: {record.personal_data} contradicts its data_categories "
                f"({'some' if has_personal else 'none'} of which are personal)"
            )
        if record.pseudonymised and not record.personal_data:
            problems.append(f"{where}.pseudonymised: only personal data can be pseudonymised")
        if activity is not None:
            if (
                any(c.special_category for c in categories)
                and not activity.special_category_condition
            ):
                problems.append(
                    f"{where}: carries special-category data but processing activity "
                    f"{record.processing_activity!r} has no special_category_condition"
                )
            if any(c.criminal_offence for c in categories) and not activity.criminal_offence_basis:
                problems.append(
                    f"{where}: carries criminal-offence data but processing activity "
                    f"{record.processing_activity!r} has no criminal_offence_basis"
                )
        return problems

    @property
    def source_path(self) -> str:
        """The YAML file this register was loaded from (for error messages and reports)."""
        return self._source_path

    def asset_record(self, asset_name: str) -> AssetRecord:
        """The record for ``asset_name``; raises :class:`MissingDpiaRecord` if there is none."""
        try:
            return self.assets[asset_name]
        except KeyError:
            raise MissingDpiaRecord(
                f"asset {asset_name!r} has no record in the DPIA register {self.source_path}: "
                f"add an entry under `assets:` (processing_activity, data_categories, "
                f"personal_data, pseudonymised, retention, store) before it can be materialised"
            ) from None

    def asset_metadata(self, asset_name: str) -> dict[str, object]:
        """Flat ``dpia/*`` metadata for one asset, plain JSON-able values only.

        Conditions come from the asset's processing activity, not from the asset's own
        categories: an aggregate built from special-category data was still produced under
        the Art 9 condition, and the lineage check relies on that.
        """
        record = self.asset_record(asset_name)
        activity = self.processing_activities[record.processing_activity]
        return {
            "dpia/processing_activity": record.processing_activity,
            "dpia/purpose": self.purposes[activity.purpose].description,
            "dpia/lawful_basis": activity.lawful_basis,
            "dpia/special_category_condition": activity.special_category_condition
            or NOT_APPLICABLE,
            "dpia/criminal_offence_basis": activity.criminal_offence_basis or NOT_APPLICABLE,
            "dpia/statutory_gateways": list(activity.statutory_gateways),
            "dpia/data_categories": list(record.data_categories),
            "dpia/special_categories": [
                c for c in record.data_categories if self.data_categories[c].special_category
            ],
            "dpia/personal_data": record.personal_data,
            "dpia/pseudonymised": record.pseudonymised,
            "dpia/retention": self.retention[record.retention].summary(),
            "dpia/controller": self.controller.name,
            "dpia/dpia_reference": f"{self.dpia.reference} v{self.dpia.version}",
            "dpia/data_sharing_agreement": (
                self.data_sharing_agreements[record.data_sharing_agreement].reference
                if record.data_sharing_agreement
                else NOT_APPLICABLE
            ),
        }

    def check_metadata(self, asset_name: str, check_name: str) -> dict[str, object]:
        """Metadata for an asset check: its asset's record, plus where it was inherited from."""
        return {**self.asset_metadata(asset_name), "dpia/inherited_from": asset_name}

    def retention_for(self, dataset: str) -> RetentionPolicy:
        """The retention policy of an asset (or a policy by its own name)."""
        if dataset in self.assets:
            return self.retention[self.assets[dataset].retention]
        if dataset in self.retention:
            return self.retention[dataset]
        raise MissingDpiaRecord(
            f"no retention for {dataset!r} in the DPIA register {self.source_path}: "
            f"it is neither an asset nor a policy under `retention:`"
        )

    def category(self, name: str) -> DataCategory:
        """A data category by name; raises :class:`UnknownDataCategory` if it is not defined."""
        try:
            return self.data_categories[name]
        except KeyError:
            raise UnknownDataCategory(
                f"data category {name!r} is not in the vocabulary of {self.source_path} "
                f"({', '.join(self.data_categories)})"
            ) from None

    def is_personal_category(self, name: str) -> bool:
        """Whether a data category is personal data (unknown names raise, not return False)."""
        return self.category(name).personal

    def lineage_problems(self, upstream: Mapping[str, Collection[str]]) -> list[str]:
        """Check the register against an asset graph (asset -> its direct upstream assets).

        Two rules: a non-external asset carries only personal categories that some direct
        upstream carries (categories can be removed, never appear from nowhere); an asset
        with any special-category (criminal-offence) data in itself or any ancestor belongs to
        an activity with an Art 9 condition (Art 10 basis). Returns one message per breach.
        """
        problems: list[str] = []
        memo: dict[str, set[str]] = {}

        def inherited(asset: str, trail: tuple[str, ...] = ()) -> set[str]:
            if asset not in memo:
                if asset in trail:
                    raise ValueError(f"asset graph has a cycle through {asset!r}")
                found = set(self.asset_record(asset).data_categories)
                for parent in upstream.get(asset, ()):
                    found |= inherited(parent, (*trail, asset))
                memo[asset] = found
            return memo[asset]

        for asset in upstream:
            record = self.asset_record(asset)
            activity = self.processing_activities[record.processing_activity]
            if not record.external:
                available = {
                    c for p in upstream[asset] for c in self.asset_record(p).data_categories
                }
                for category in record.data_categories:
                    if self.is_personal_category(category) and category not in available:
                        problems.append(
                            f"{asset}: personal category {category!r} is carried by none of its "
                            f"upstream assets ({', '.join(sorted(upstream[asset])) or 'none'})"
                        )
            ancestry = [self.category(c) for c in inherited(asset)]
            if (
                any(c.special_category for c in ancestry)
                and not activity.special_category_condition
            ):
                problems.append(
                    f"{asset}: derived from special-category data but activity "
                    f"{record.processing_activity!r} has no special_category_condition"
                )
            if any(c.criminal_offence for c in ancestry) and not activity.criminal_offence_basis:
                problems.append(
                    f"{asset}: derived from criminal-offence data but activity "
                    f"{record.processing_activity!r} has no criminal_offence_basis"
                )
        return problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (the earlier entry would be lost)",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def default_register_path() -> Path:
    """The packaged register (a council's own copy is passed in by the caller: the code
    location takes it from the ``dpia_register`` setting, ``$SAFEGUARD_DPIA_REGISTER``)."""
    return Path(str(resources.files("safeguard.dpia") / "register.yaml"))


def _yaml_path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_register(path: Path | None = None) -> DpiaRegister:
    """Load and validate the DPIA register.

    Parameters
    ----------
    path : pathlib.Path, optional
        The YAML file. Default: ``dpia/register.yaml`` shipped with the code. A council keeps
        its own register outside the package and names it in the ``dpia_register`` setting
        (``$SAFEGUARD_DPIA_REGISTER``); ``safeguard.pipelines.dpia_metadata.register`` passes it here.

    Returns
    -------
    DpiaRegister

    Raises
    ------
    DpiaRegisterError
        When the file is missing, is not YAML, or any field is invalid; the message names the
        file and the YAML path of every bad field.
    """
    source = Path(path) if path is not None else default_register_path()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise DpiaRegisterError(f"cannot read DPIA register {source}: {error}") from error
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise DpiaRegisterError(f"DPIA register {source} is not valid YAML: {error}") from error
    if not isinstance(raw, Mapping):
        raise DpiaRegisterError(f"DPIA register {source} must be a YAML mapping at top level")
    try:
        register = DpiaRegister.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = _yaml_path(tuple(item["loc"]))
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"  {where}: {message}" if where else f"  {message}")
        raise DpiaRegisterError(
            f"DPIA register {source} is invalid:\n" + "\n".join(problems)
        ) from None
    register._source_path = str(source)
    return register
