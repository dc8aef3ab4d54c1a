"""Words that are also names or places but must not be removed on their own from clinical text.

A patient called "Grace White" from "Liberal, KS" must not turn "white blood cells", "grace period" or
"liberal fluid intake" into placeholders. Name tokens and city names in this list are removed only in a
longer context (full name, title + name, "City, ST"), see `anonymizer.text.contextual`.
The list holds common English words, clinical eponyms (disease and sign names) and descriptors of race,
ethnicity and sex that appear in notes.
"""

from __future__ import annotations

_WORDS = """
able about above after again against age ages air all allen also alton amber an and angel any april are
arm art as ash at august autumn avery back bad bailey baker banks barber bay be beach bear bell bells bend
berry best bill billy bird birds black blair blake bliss bloom blue bond bone born boyd branch brand bright
brook brooks brown buck bush butler by call camp can cancer candy care carter case cash chance chase cherry
child christian church city clay clear cliff cole coleman colon cook cooper cork cotton crane crohn cross
crown cruz curry cushing dale dallas dawn day dean dear december deep del dell diamond dixon do doctor down
drake drew duke dunn dusty early east easter echo eden edge eye fair faith fall fields fish fisher fleming
floyd ford forest fort foster fox frank free frost fuller gage gale garden gardner gay gene gentry gilbert
glass glen gold golden good grace graham grand grant graves gray green grey grove guy hale hall ham hand
hannah hardy harmony harper hart hay haze hazel head heart heath heather high hill hines holly honey hood
hope hopper horn house howard hunt hunter iris ivory ivy jack james january jay jewel joy judge july june
just kidney king kitchen knight lake lamb land lane large law lawrence lee left lewis liberal light lily
little long love lovely lucky major march mark marsh marshal marshall mason may mayo meadow mercy merry
middle mill miller mine miss moody moon moore morning moss mrs much my nail nash neck new newman
nice night noble normal north november oak oakley ocean october of old olive on or orange page palmer park
parker parkinson paris patient patience pearl penny pepper person pierce pine pink plain poe pope porter
post power pratt price prince pulse queen rain ray reed reid rich richard right river robin rock rose ross
rowe royal ruby rush russell sage saint sale salt sandy scott sea season september shadow sharp shaw short
sick silver simple skin sky small smith snow spring stanley star starr steel stern stone storm strong
summer sun sunny swan sweet taylor temple the thomas thorn tiny to tobin tower townsend trinity true
turner tyler under union vale valley vance victor violet wade walker wall ward warm warren water waters
watt way weaver webb well wells west white whitney wild will williams willow wilson winter wise wolf wood
woods worth wren wright young
addison alzheimer asperger barrett bartter behcet bowen broca burkitt charcot chagas colles conn
cowden creutzfeldt cushing dandy dubin duchenne dupuytren ebstein epstein ewing fabry fallot fanconi
gaucher gilbert gilles glasgow goodpasture guillain hashimoto hirschsprung hodgkin horner huntington
hurler kaposi kawasaki klinefelter korsakoff krabbe legg lou lyme marfan meniere menkes meckel munchausen
niemann osgood paget perthes peyronie pick pott raynaud reiter rett reye sjogren still stokes tay tourette
turner wegener wernicke whipple wilms wolff
african american asian black caucasian hispanic latino native nonhispanic pacific white female male
"""

COMMON_WORDS: frozenset[str] = frozenset(_WORDS.split())
#: A name token shorter than this is removed from text only in a longer context (full name, title + name).
MIN_ALONE_TOKEN = 4
#: Why a token is kept on its own (reasons of :func:`kept_alone_reason`, shown in verify's report).
COMMON_WORD = "common or clinical word"
SHORT_TOKEN = f"name part shorter than {MIN_ALONE_TOKEN} letters"


def is_common_word(token: str) -> bool:
    """True when ``token`` (any case) is in the list of words not removed on their own."""
    return token.lower() in COMMON_WORDS


def kept_alone_reason(token: str) -> str | None:
    """Why the scrubber keeps a name or city token standing alone in text (None: it removes it).

    A token with a digit (Synthea's ``Sumiko254``) is always removed; a common or clinical word ("White",
    "Hand") or a token shorter than :data:`MIN_ALONE_TOKEN` ("Li") only in a longer context. ``verify`` exempts
    a match of such a single word outside the patient's identifier elements for the same reason.
    """
    if any(c.isdigit() for c in token):
        return None
    if is_common_word(token):
        return COMMON_WORD
    if len(token) < MIN_ALONE_TOKEN:
        return SHORT_TOKEN
    return None
