"""Where FL and NJ patients live: valid counties and the time zone each one is in."""

from __future__ import annotations

EASTERN = "America/New_York"
CENTRAL = "America/Chicago"

FLORIDA_COUNTIES = frozenset(
    {
        "Alachua",
        "Baker",
        "Bay",
        "Bradford",
        "Brevard",
        "Broward",
        "Calhoun",
        "Charlotte",
        "Citrus",
        "Clay",
        "Collier",
        "Columbia",
        "DeSoto",
        "Dixie",
        "Duval",
        "Escambia",
        "Flagler",
        "Franklin",
        "Gadsden",
        "Gilchrist",
        "Glades",
        "Gulf",
        "Hamilton",
        "Hardee",
        "Hendry",
        "Hernando",
        "Highlands",
        "Hillsborough",
        "Holmes",
        "Indian River",
        "Jackson",
        "Jefferson",
        "Lafayette",
        "Lake",
        "Lee",
        "Leon",
        "Levy",
        "Liberty",
        "Madison",
        "Manatee",
        "Marion",
        "Martin",
        "Miami-Dade",
        "Monroe",
        "Nassau",
        "Okaloosa",
        "Okeechobee",
        "Orange",
        "Osceola",
        "Palm Beach",
        "Pasco",
        "Pinellas",
        "Polk",
        "Putnam",
        "Santa Rosa",
        "Sarasota",
        "Seminole",
        "St. Johns",
        "St. Lucie",
        "Sumter",
        "Suwannee",
        "Taylor",
        "Union",
        "Volusia",
        "Wakulla",
        "Walton",
        "Washington",
    }
)

NEW_JERSEY_COUNTIES = frozenset(
    {
        "Atlantic",
        "Bergen",
        "Burlington",
        "Camden",
        "Cape May",
        "Cumberland",
        "Essex",
        "Gloucester",
        "Hudson",
        "Hunterdon",
        "Mercer",
        "Middlesex",
        "Monmouth",
        "Morris",
        "Ocean",
        "Passaic",
        "Salem",
        "Somerset",
        "Sussex",
        "Union",
        "Warren",
    }
)

COUNTIES = {"FL": FLORIDA_COUNTIES, "NJ": NEW_JERSEY_COUNTIES}

FLORIDA_CENTRAL_COUNTIES = frozenset(
    {
        "Escambia",
        "Santa Rosa",
        "Okaloosa",
        "Walton",
        "Holmes",
        "Washington",
        "Bay",
        "Jackson",
        "Calhoun",
    }
)

# Gulf County is split (Wewahitchka Central, Port St. Joe Eastern): the patient says which.
SPLIT_COUNTIES = {("FL", "Gulf"): frozenset({CENTRAL, EASTERN})}


def county_is_valid(state: str, county: str) -> bool:
    return county in COUNTIES.get(state, frozenset())


def county_time_zone(state: str, county: str) -> str | None:
    """The county's IANA zone, or None where the patient must choose (Gulf County)."""
    if (state, county) in SPLIT_COUNTIES:
        return None
    if state == "FL" and county in FLORIDA_CENTRAL_COUNTIES:
        return CENTRAL
    return EASTERN
