"""The tenant's fixed vocabulary: business units, job types, activity codes, campaigns, names.

These are the shapes the KPIs depend on (BU name suffixes, job-type names containing
"estimate" or "warranty", inactive entries that only ``active=Any`` returns), so they are
spelled out as data rather than generated.
"""

from __future__ import annotations

# (name, active, region 0=PHX 1=TUC 2=NEV 3=FLG, role "Sales"|"Production")
BUSINESS_UNITS: tuple[tuple[str, bool, int, str], ...] = (
    ("Phoenix-Sales", True, 0, "Sales"),
    ("Phoenix-Production", True, 0, "Production"),
    ("Tucson-Sales", True, 1, "Sales"),
    ("Tucson-Production", True, 1, "Production"),
    ("Nevada-Sales", True, 2, "Sales"),
    ("Nevada-Production", True, 2, "Production"),
    ("Commercial-AZ-Production", True, 0, "Production"),
    ("Andy's Painting-Production", True, 0, "Production"),
    ("Guaranteed Painting-Production", True, 0, "Production"),
    ("Flagstaff-Sales", False, 3, "Sales"),
    ("Flagstaff-Production", False, 3, "Production"),
)
BU_SALES = {0: 0, 1: 2, 2: 4}  # region -> sales BU index
BU_PRODUCTION = {0: 1, 1: 3, 2: 5}
BU_COMMERCIAL = 6
BU_ANDYS = 7
BU_GUARANTEED = 8
BU_FLAGSTAFF_SALES = 9
BU_FLAGSTAFF_PRODUCTION = 10

# (name, active, class) ; classes: est-res, est-comm, prod-res, prod-comm, warranty
JOB_TYPES: tuple[tuple[str, bool, str], ...] = (
    ("ESTIMATE-RES-INT", True, "est-res"),
    ("ESTIMATE-RES-EXT", True, "est-res"),
    ("Estimate- Cabinets", True, "est-res"),
    ("ESTIMATE-FLOOR COATINGS-EPOXY", True, "est-res"),
    ("Estimate - Stucco (old)", False, "est-res"),
    ("COMM-ESTIMATE", True, "est-comm"),
    ("RES-INT", True, "prod-res"),
    ("RES-EXT", True, "prod-res"),
    ("CABINETS", True, "prod-res"),
    ("FLOOR COATINGS-EPOXY", True, "prod-res"),
    ("RES-DRYWALL (legacy)", False, "prod-res"),
    ("COMM-REPAINT", True, "prod-comm"),
    ("WARRANTY", True, "warranty"),
)
EST_RES_TYPES = (0, 1, 2, 3, 4)
EST_RES_P = (0.40, 0.33, 0.12, 0.10, 0.05)
PROD_RES_TYPES = (6, 7, 8, 9, 10)
PROD_RES_P = (0.40, 0.35, 0.12, 0.10, 0.03)
JT_COMM_ESTIMATE = 5
JT_COMM_PRODUCTION = 11
JT_WARRANTY = 12

# (code, name, active)
ACTIVITY_CODES: tuple[tuple[str, str, bool], ...] = (
    ("REG", "Regular", True),
    ("OT", "Overtime", True),
    ("DRV", "Drive Time", True),
    ("BON", "Bonus", True),
    ("TRN", "Training", True),
    ("PIECE", "Piece Rate (old)", False),
)
PAY_ACTIVITIES = ("Regular", "Overtime")

CAMPAIGNS: tuple[tuple[str, bool], ...] = (
    ("Google Ads", True),
    ("Facebook", True),
    ("Yelp", True),
    ("Angi", True),
    ("HomeAdvisor", True),
    ("Referral", True),
    ("Repeat Customer", True),
    ("Yard Sign", True),
    ("Website", True),
    ("Nextdoor", True),
    ("Commercial Outreach", True),
    ("Direct Mail 2022", False),
    ("Radio KTAR (old)", False),
    ("Val-Pak 2023", False),
)

JOB_OUTCOMES = ("Completed", "Canceled", "Hold")
FIRST_NAMES = (
    "James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer",
    "Carlos", "Susan", "Daniel", "Karen", "Jose", "Nancy", "Kevin", "Lisa", "Brian",
    "Angela", "Steven", "Rosa", "Mark", "Emily", "Paul", "Laura",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Johnson", "Martinez", "Brown", "Lopez", "Miller", "Davis",
    "Hernandez", "Wilson", "Anderson", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Gonzalez", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright",
)  # fmt: skip
COMPANY_WORDS = (
    "Desert", "Saguaro", "Canyon", "Mesa", "Sonoran", "Summit", "Copper", "Valley",
    "Red Rock", "Sunrise", "Cactus", "Silver State",
)  # fmt: skip
COMPANY_KINDS = ("Property Management", "HOA", "Office Park", "Medical Plaza", "Apartments", "LLC")
CITIES = {0: ("Phoenix", "Scottsdale", "Mesa", "Chandler", "Gilbert", "Glendale", "Tempe"),
          1: ("Tucson", "Oro Valley", "Marana", "Sahuarita"),
          2: ("Las Vegas", "Henderson", "North Las Vegas", "Summerlin")}  # fmt: skip
STREETS = ("Camelback Rd", "Indian School Rd", "Main St", "Desert View Dr", "Oracle Rd",
           "Sahara Ave", "Rainbow Blvd", "Grand Ave", "Ocotillo Ln", "Palo Verde Dr")  # fmt: skip
PAYMENT_TYPES = ("Credit Card", "Check", "ACH", "Cash", "Financing")
ADJUSTMENT_MEMOS = ("Spiff", "Callback deduction", "Tool allowance", "Bonus", "Correction")
