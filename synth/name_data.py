"""Name pools by naming tradition (data only), ordered most common first.

Frequencies are shaped Zipf-like by :mod:`safeguard.synth.names` so that common names collide the way they
do in real English towns (many "Mohammed Khan", "Jack Smith", "Priya Patel" in one area). All
lists are invented from common public knowledge of name frequencies; none is a real register.
"""

from __future__ import annotations

# Given names: tradition -> (male, female). British has an older and a younger generation.
GIVEN: dict[str, tuple[str, str]] = {
    "british_old": (
        "David John Paul Mark Michael Andrew Stephen Peter Robert Richard Christopher James Ian "
        "Simon Gary Anthony Kevin Steven Martin Darren Neil Lee Jason Craig Stuart Graham Philip "
        "Thomas William Matthew Daniel Jonathan Carl Shaun Wayne Dean Barry Keith Colin Alan Brian "
        "Kenneth Terence Raymond Geoffrey Derek Trevor Roy Dennis Edward Nicholas Samuel Joseph",
        "Susan Julie Karen Tracey Sarah Lisa Nicola Joanne Claire Amanda Elizabeth Margaret "
        "Patricia Linda Deborah Helen Michelle Rachel Emma Louise Jennifer Catherine Katherine "
        "Victoria Rebecca Samantha Kelly Donna Angela Jacqueline Dawn Carol Christine Janet Sandra "
        "Gillian Alison Lorraine Kathleen Barbara Maureen Jean Pauline Valerie Sharon Wendy "
        "Caroline Jane Anne Pamela Siân",
    ),
    "british_young": (
        "Oliver Jack Harry George Noah Charlie Jacob Alfie Freddie Oscar Leo Thomas William James "
        "Joshua Archie Henry Theo Arthur Samuel Joseph Logan Max Isaac Lucas Ethan Mason Riley "
        "Finley Harrison Daniel Dylan Jake Tyler Alexander Edward Toby Reggie Teddy Louie Ryan "
        "Callum Liam Kyle Connor Jordan Lewis Luke Bradley Aaron Matthew Nathan",
        "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence "
        "Emily Ella Poppy Evie Elsie Charlotte Evelyn Sienna Daisy Phoebe Sophie Jessica Chloe Lucy "
        "Ellie Holly Megan Hannah Lauren Amy Bethany Abigail Zoe Zoë Chloé Niamh Erin Molly Ruby "
        "Millie Scarlett Harper Matilda Layla Maisie Eleanor Rebecca Victoria",
    ),
    "irish": (
        "Sean Patrick Conor Liam Ciaran Declan Niall Eoin Cian Darragh Michael John Kevin Brendan "
        "Padraig Oisin Ronan Aidan Fergal Colm",
        "Siobhan Aoife Niamh Ciara Orla Sinead Roisin Mary Bridget Grainne Aisling Caoimhe Saoirse "
        "Clodagh Maeve Eimear Deirdre Fiona Nuala Una",
    ),
    "east_european": (
        "Jakub Piotr Tomasz Krzysztof Marcin Paweł Michał Łukasz Andrei Ion Mihai Alexandru Florin "
        "Bogdan Darius Mateusz Kacper Filip Szymon Adrian Marius Vasile Tomas Jonas Janis",
        "Anna Katarzyna Agnieszka Magdalena Joanna Monika Ewa Maria Elena Ioana Andreea Alina "
        "Gabriela Zuzanna Julia Zofia Natalia Oliwia Maja Lena Daniela Roxana Ieva Laura Ilze",
    ),
    "south_asian_muslim": (
        "Mohammed Muhammad Ali Ahmed Hassan Ibrahim Yusuf Omar Bilal Hamza Usman Zain Adam Ayaan "
        "Imran Tariq Abdul Aziz Faisal Kamran Rizwan Shahid Zubair Arif Asif Nadeem Sajid Waqar "
        "Yasir Rayyan Zakariya Musa Isa Haroon Mohammad",
        "Fatima Ayesha Aisha Maryam Zainab Hafsa Khadija Amina Sana Nadia Samina Shabana Rukhsana "
        "Nasreen Parveen Farzana Salma Yasmin Sumaya Hana Inaya Anaya Zara Safa Noor Iqra Rabia "
        "Sadia Sobia Uzma",
    ),
    "indian": (
        "Arjun Rohan Aarav Vikram Rajesh Sanjay Amit Ravi Anil Suresh Harpreet Gurpreet Jaspreet "
        "Manpreet Sunil Deepak Kiran Nikhil Rahul Dev Jatinder Kuldip Sandeep Hardeep Vijay",
        "Priya Anjali Pooja Neha Sunita Anita Kavita Meena Simran Harpreet Jaspreet Gurpreet Amrit "
        "Riya Aanya Diya Isha Kiran Nisha Sita Parminder Rajinder Manjit Jasvinder Sonia",
    ),
    "caribbean": (
        "Tyrone Andre Marcus Jermaine Leon Dwayne Delroy Winston Carl Jerome Kyle Tyrese Kai Jayden "
        "Nathan Reuben Elijah Isaiah Malachi Jaden Devon Clive Everton Lloyd Junior",
        "Shanice Tanisha Keisha Marcia Paulette Beverley Jasmine Chantelle Aaliyah Nia Destiny "
        "Imani Amara Serena Monique Yvonne Janet Jada Kiara Zuri Sonia Claudette Hyacinth Denise "
        "Tamika",
    ),
    "african": (
        "Samuel David Daniel Emmanuel Joseph Michael Kwame Kofi Chinedu Emeka Oluwaseun Tunde Segun "
        "Abdi Mohamed Ahmed Isaac Godfrey Yaw Kwabena Tendai Tafadzwa Olumide Chukwuemeka Ebuka",
        "Blessing Grace Precious Faith Comfort Esther Ruth Deborah Abena Ama Chioma Ngozi Funmilayo "
        "Fatuma Hodan Amina Nimco Ayaan Adwoa Chiamaka Folake Temitope Yetunde Nkechi Ifeoma",
    ),
    "chinese": (
        "Wei Jun Hao Lei Ming Jian Yi Kevin Jason Daniel Bo Chen Feng Gang Hui Kai Long Peng Tao Yu",
        "Mei Li Xin Ying Hui Jing Lin Yan Grace Amy Fang Hong Juan Lan Na Ping Qing Wen Xia Yun",
    ),
    "arabic": (
        "Ahmed Ali Omar Youssef Karim Samir Khalid Mahmoud Hassan Mustafa Ibrahim Tariq Nabil Rami "
        "Walid Adel Bashir Fadi Jamal Nasser",
        "Fatima Layla Noor Rania Yasmin Huda Mariam Sara Lina Amal Dina Salma Hiba Rana Nour Aya "
        "Ghada Maha Reem Samira",
    ),
}

# Surnames by tradition, most common first.
SURNAMES: dict[str, str] = {
    "british": (
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
        "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Jackson Wood "
        "Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen "
        "James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly "
        "Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan "
        "O'Brien Smith-Jones Marshall Simpson Ellis Chapman Webb Rogers Gray Mason Hunt Palmer "
        "Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Dixon "
        "Fletcher Fox Howard Pearson Andrews Lawrence Harvey Reynolds Burton Ford Gibson Wells"
    ),
    "irish": (
        "Murphy Kelly O'Sullivan Walsh Smith O'Brien Byrne Ryan O'Connor O'Neill Reilly Doyle "
        "McCarthy Gallagher Doherty Kennedy Lynch Murray Quinn Moore McLaughlin Carroll Connolly "
        "Daly Connell Ward"
    ),
    "east_european": (
        "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański "
        "Woźniak Popescu Ionescu Popa Radu Stan Dumitru Stoica Rusu Balogh Horvath Kovacs Lakatos "
        "Petrov Ivanov Kazlauskas Jankauskas Berzins Ozols Dimitrov Georgiev"
    ),
    "south_asian_muslim": (
        "Khan Ahmed Hussain Ali Rahman Islam Miah Uddin Akhtar Iqbal Shah Mahmood Butt Malik Aslam "
        "Rashid Akram Chaudhry Qureshi Raza Siddiqui Mirza Saleem Anwar Hanif Javed Nawaz Riaz "
        "Sadiq Younis Zaman Ahmad Hussein"
    ),
    "indian": (
        "Patel Singh Sharma Kumar Shah Mistry Gill Sandhu Sidhu Dhillon Parmar Chauhan Joshi Mehta "
        "Desai Lal Bains Rai Thakkar Solanki Pandya Verma Gupta Bhatt Sohal"
    ),
    "caribbean": (
        "Campbell Williams Brown Thomas Clarke Francis Grant Reid Robinson Johnson Lewis Henry "
        "Thompson Edwards Bailey Morgan Samuels Walters Gayle Bennett Richards Stewart Facey "
        "McKenzie Powell Spencer Wright Daley Lawrence Forbes"
    ),
    "african": (
        "Mohamed Adebayo Okafor Okoye Mensah Osei Boateng Asante Owusu Nwosu Eze Adeyemi Balogun "
        "Abdi Hassan Ali Omar Warsame Farah Yusuf Moyo Ncube Dube Banda Phiri Kamara Conteh Sesay "
        "Bangura Mwangi"
    ),
    "chinese": (
        "Chen Wang Li Zhang Liu Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Lin Guo He Gao Luo Wong "
        "Chan Cheung Lau Leung Ng Lam Tang Ho Yip"
    ),
    "arabic": (
        "Ali Hassan Ahmed Mohamed Ibrahim Saleh Haddad Mansour Khalil Nasser Hamid Aziz Rahman "
        "Suleiman Darwish Farouk Habib Kassem Mahmoud Osman"
    ),
}

# Long tail of English surnames, built as prefix x suffix ("Ashworth", "Blackburn", ...).
SURNAME_PREFIXES = (
    "Ash Black Brad Brook Cal Cart Chad Church Clay Crom Dal Dun East Fair Farn Fen Gold Green "
    "Hal Hart Hay Hol Kings Lang Lock Marsh Mid Mor New North Oak Pem Red Ring Rad Shel South "
    "Stan Stock Sut Thorn Wal West Whit Win Wood Brom Haw Rams"
)
SURNAME_SUFFIXES = (
    "by ford ley ton worth well wood field ham bridge more dale wick stone croft hurst"
)

# Formal name -> informal or transliterated variants (the "Bill/William" kind of disagreement).
VARIANTS: dict[str, str] = {
    "William": "Bill Will Billy",
    "Robert": "Bob Rob Robbie",
    "James": "Jim Jimmy Jamie",
    "John": "Jon Johnny Jack",
    "Thomas": "Tom Tommy",
    "Michael": "Mike Mick",
    "Christopher": "Chris",
    "Daniel": "Dan Danny",
    "Samuel": "Sam Sammy",
    "Alexander": "Alex",
    "Joseph": "Joe Joey",
    "Matthew": "Matt",
    "Richard": "Rich Rick Dick",
    "Anthony": "Tony Ant",
    "Stephen": "Steve Steven",
    "Steven": "Steve Stephen",
    "Andrew": "Andy Drew",
    "Edward": "Ed Ted Eddie",
    "Jonathan": "Jon Jonny",
    "Nicholas": "Nick",
    "Peter": "Pete",
    "David": "Dave",
    "Philip": "Phil Phillip",
    "Kenneth": "Ken Kenny",
    "Terence": "Terry",
    "Raymond": "Ray",
    "Geoffrey": "Geoff Jeff",
    "Charlie": "Charles",
    "Alfie": "Alfred Alf",
    "Freddie": "Frederick Fred",
    "Archie": "Archibald",
    "Theo": "Theodore",
    "Elizabeth": "Liz Beth Lizzie Betty",
    "Katherine": "Kate Kathy Katie",
    "Catherine": "Cathy Kate Katherine",
    "Margaret": "Maggie Peggy",
    "Rebecca": "Becky Becca",
    "Victoria": "Vicky Tori",
    "Samantha": "Sam Sammy",
    "Jennifer": "Jen Jenny",
    "Patricia": "Pat Tricia",
    "Deborah": "Debbie Debra",
    "Jacqueline": "Jackie",
    "Christine": "Chris Chrissie",
    "Susan": "Sue Susie",
    "Olivia": "Liv Livvy",
    "Amelia": "Millie Amy",
    "Isabella": "Bella Izzy",
    "Charlotte": "Lottie Charlie",
    "Eleanor": "Ellie Nell",
    "Sophia": "Sophie",
    "Abigail": "Abbie Abby",
    "Jessica": "Jess",
    "Gillian": "Gill Jill",
    "Pamela": "Pam",
    "Sarah": "Sara",
    "Zoë": "Zoe",
    "Chloé": "Chloe",
    "Siân": "Sian",
    "Hannah": "Hanna",
    "Mohammed": "Muhammad Mohammad Mohamed Mohd Muhammed",
    "Muhammad": "Mohammed Mohammad",
    "Mohammad": "Mohammed Muhammad",
    "Mohamed": "Mohammed Mohamud",
    "Ahmed": "Ahmad",
    "Yusuf": "Yousef Yusef",
    "Fatima": "Fatimah Fatma",
    "Ayesha": "Aisha Aysha",
    "Aisha": "Ayesha",
    "Maryam": "Mariam",
    "Zainab": "Zaynab",
    "Khadija": "Khadijah",
    "Abdul": "Abdel",
    "Ibrahim": "Ebrahim",
    "Hassan": "Hasan",
    "Paweł": "Pawel",
    "Michał": "Michal",
    "Łukasz": "Lukasz",
    "Oluwaseun": "Seun",
    "Chukwuemeka": "Emeka",
    "Tafadzwa": "Taffy",
}

# Surname spelling variants seen between agencies ("_" stands for a space).
SURNAME_VARIANTS: dict[str, str] = {
    "Hussain": "Hussein Husain",
    "Hussein": "Hussain",
    "Mohamed": "Mohammed",
    "Ahmed": "Ahmad",
    "Ahmad": "Ahmed",
    "Chaudhry": "Chaudhary Choudhury",
    "Rahman": "Rehman",
    "McKenzie": "MacKenzie Mckenzie",
    "Thompson": "Thomson",
    "Clarke": "Clark",
    "O'Brien": "OBrien O_Brien",
    "O'Sullivan": "OSullivan O_Sullivan",
    "O'Connor": "OConnor O_Connor",
    "O'Neill": "ONeill O_Neill",
    "Smith-Jones": "Smith Smith_Jones",
    "Wiśniewski": "Wisniewski",
    "Wójcik": "Wojcik",
    "Kamiński": "Kaminski",
    "Zieliński": "Zielinski",
    "Szymański": "Szymanski",
    "Woźniak": "Wozniak",
    "Mahmood": "Mahmud Mehmood",
}

STREET_NAMES = (
    "Mill Church Station Victoria Park Queens Kings Albert Manor Grange Chapel Bridge Castle "
    "Green School Elm Oak Beech Willow Cedar Ash Maple Holly Hawthorn Meadow Orchard Spring "
    "Alexandra Windsor York Clarence Stanley Balmoral Melbourne Nelson Wellington Cromwell Milton "
    "Shakespeare Byron Tennyson Newton Darwin Brunel Telford Canal Wharf Market Cross High Hill "
    "Valley Brook River Forest Heath Moor Field Farm Abbey Priory Rectory Vicarage Well"
)

STREET_TYPES = (
    ("Road", "Rd"),
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Close", "Cl"),
    ("Lane", "Ln"),
    ("Drive", "Dr"),
    ("Way", "Way"),
    ("Gardens", "Gdns"),
    ("Crescent", "Cres"),
    ("Terrace", "Terr"),
    ("Court", "Ct"),
    ("Place", "Pl"),
)

BUILDING_NAMES = (
    "Kingsway House Riverside Court Victoria Mansions Elm Tower Jubilee House Regent Court "
    "Phoenix House Beacon Heights Unity House Harbour View"
)

COUNCIL_NAMES = (
    "Northbridge",
    "Valeford",
    "Quarrymoor",
    "Exbourne",
    "Juniper Vale",
    "Zennor Downs",
    "Brackenridge",
    "Upton Marsh",
)

#: Postcode area letters per council (not used by any real UK postcode area).
COUNCIL_AREA_LETTERS = ("NB", "VB", "QB", "XB", "JB", "ZB", "VN", "QN")
