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

# Job types by class (est-res, est-comm, prod-res, prod-comm, warranty), in id order;
# the retired ones only ``active=Any`` returns.
_JOB_TYPE_CLASSES: dict[str, tuple[str, ...]] = {
    "est-res": ("ESTIMATE-RES-INT", "ESTIMATE-RES-EXT", "Estimate- Cabinets",
                "ESTIMATE-FLOOR COATINGS-EPOXY", "Estimate - Stucco (old)"),
    "est-comm": ("COMM-ESTIMATE",),
    "prod-res": ("RES-INT", "RES-EXT", "CABINETS", "FLOOR COATINGS-EPOXY", "RES-DRYWALL (legacy)"),
    "prod-comm": ("COMM-REPAINT",),
    "warranty": ("WARRANTY",),
}  # fmt: skip
_RETIRED_JOB_TYPES = {"Estimate - Stucco (old)", "RES-DRYWALL (legacy)"}
# (name, active, class)
JOB_TYPES: tuple[tuple[str, bool, str], ...] = tuple(
    (name, name not in _RETIRED_JOB_TYPES, cls)
    for cls, names in _JOB_TYPE_CLASSES.items()
    for name in names
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

_RETIRED_CAMPAIGNS = ("Direct Mail 2022", "Radio KTAR (old)", "Val-Pak 2023")
# (name, active): the retired ones last
CAMPAIGNS: tuple[tuple[str, bool], ...] = tuple(
    (name, name not in _RETIRED_CAMPAIGNS)
    for name in (
        "Google Ads", "Facebook", "Yelp", "Angi", "HomeAdvisor", "Referral", "Repeat Customer",
        "Yard Sign", "Website", "Nextdoor", "Commercial Outreach", *_RETIRED_CAMPAIGNS,
    )
)  # fmt: skip

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
