"""Words and regex fragments the recognizers (`anonymizer.text.recognizers`) are built from.

The categories, US state names and abbreviations, street suffixes, identifier labels and the keys that find
them, month names, the shared fragments of the phone, age and label regexes, and the trailing punctuation
a match never ends with.
"""

from __future__ import annotations

import re

CATEGORIES = ("DATE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID", "ZIP", "ADDRESS", "AGE")

# fmt: off
STATE_ABBREVIATIONS = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
    "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
)
# fmt: on
STATE_NAMES_PATTERN = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|"
    "North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Puerto Rico|Rhode Island|South Carolina|"
    "South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
STREET_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
    "Circle|Cir|Parkway|Pkwy|Highway|Hwy|Landing|Square|Sq|Trail|Trl|Row|Alley|Crossing|Heights|Hts|"
    "Route|Rte|Loop|Run|Point|Pike|Plaza|Commons|Gardens|Estates|Station|Walk|Ridge|Manor|Grove|Hollow|"
    "Harbor|Junction|Knoll|Meadows?|Mill|Park|Ranch|Summit|Turnpike|View|Village|Vista|Wells?|Creek|Glen|"
    "Xing|Ldg|Holw|Rdg|Mnr|Jct|Cres|Crescent|Ctr|Center|Expy|Fwy|Bend|Bnd|Cove|Cv|Spur|Pass|Oval|Trce|Sta"
)
# Every alternative starts with a literal letter, so the regex engine can skip ahead to candidates.
ID_LABEL = "|".join(
    [
        r"mrn",
        r"mr\s*#",
        r"medical\s+record\s+(?:number|no\.?|num\.?|#)",
        r"record\s+(?:number|no\.?|num\.?|#)",
        r"acct\.?(?:\s*(?:number|no\.?|#))?",
        r"account\s+(?:number|no\.?|num\.?|#)",
        *(
            rf"{word}\s+(?:id|identifier|number|no\.?|#)"
            for word in (
                "member",
                "subscriber",
                "beneficiary",
                "patient",
                "insurance",
                r"health\s+plan",
                "policy",
                "claim",
                "encounter",
                "visit",
                "case",
                "device",
                "serial",
                "passport",
                "certificate",
                "plate",
            )
        ),
        r"licen[cs]e\s+(?:plate\s+)?(?:number|no\.?|#)",
        r"driver'?s\s+licen[cs]e(?:\s+(?:number|no\.?|#))?",
        r"dl\s*#",
        r"s/n",
        r"vin",
    ]
)
# Bare domains ("example.org/patient/1") are URLs only with these common top-level domains.
TLDS = "com|org|net|edu|gov|mil|info|biz|io|us|health|care|co\\.uk"
ID_KEYS = (
    "mrn",
    "mr",
    "medical",
    "record",
    "acct",
    "account",
    "member",
    "subscriber",
    "beneficiary",
    "patient",
    "insurance",
    "health",
    "policy",
    "claim",
    "encounter",
    "visit",
    "case",
    "device",
    "serial",
    "passport",
    "certificate",
    "plate",
    "licen",
    "driver",
    "dl",
    "s/n",
    "vin",
)
MONTH_KEYS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DIGIT_RUN = re.compile(r"\d+")
SEP = r"\s*(?:is\s+|[:#=]\s*|no\.?\s*)?"
HEX_GROUP = r"[0-9a-f]{1,4}"
PHONE_EXT = r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\w/-])"
AGE = r"(?:9\d|1[0-4]\d)"
UNITS = "one|two|three|four|five|six|seven|eight|nine"
BELOW_FIFTY = (
    rf"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
    rf"|(?:twenty|thirty|forty)(?:[\s-]+(?:{UNITS}))?|{UNITS})"
)
#: 90 to 149 in words: "ninety", "ninety-six", "one hundred", "a hundred and two", "one hundred twenty-one".
AGE_WORDS = rf"(?:ninety(?:[\s-]+(?:{UNITS}))?|(?:one|a)[\s-]+hundred(?:(?:\s+and)?[\s-]+{BELOW_FIFTY})?)"
YEARS_OLD = r"(?=[\s-]*(?:(?:years?|yrs?)[\s-]*old|years?\s+of\s+age|y\.?\s?o(?!\w)|y/o))"
AGE_LABEL = r"(?:aged?|age\s*:|age\s+of)\s*"
FULL_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
TRAILING = ".,;:!?)]}'\""
