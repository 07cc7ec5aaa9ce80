"""Language-independent features for the political-ad classifier: concepts, not words.

Character n-grams learn the words of the languages they were trained on; a newsroom in a new country
brings a language the model never saw. Each concept below (voting, elections, a government, a shop, a
discount...) is listed in the 16 languages of the EU's largest countries and their neighbours, written
from general vocabulary (not taken from any training set), so a weight learned for "election" in German
and English also fires on Finnish "vaalit" or Italian "elezioni". Stems match at the start of a word,
or anywhere inside one when marked with a leading `~` (German, Dutch and Finnish build compounds:
Bundestags*wahl*, *verkiezing*sprogramma, eduskunta*vaalit*).

Structural features (links, hashtags, prices, exclamations, capitalised names) need no language at all.
Matching runs on folded text (lower case, no diacritics), as the archive's search does.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

from shieldwall.ads.document import fold

# concept -> stems (folded), separated by |. Languages: en de fr it es pt nl fi sv da no pl cs ro hu et.


def _stems(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


POLITICAL: dict[str, tuple[str, ...]] = {
    "vote": _stems(
        "vote|voting|voter|ballot|~wahl|~wahlen|~wahler|stimme|abstimm|votez|voter|scrutin|votare|votate|"
        "votaz|voto|votar|votacion|votacao|stem op|stemmen|stembus|~aanest|rosta|rostning|stemme|stemmer|"
        "glosuj|glosow|volit|hlasuj|votati|votul|szavaz|haaleta|haaletu"
    ),
    "election": _stems(
        "elect|~wahl|election|elezion|elettoral|eleccion|eleicao|eleitoral|~verkiezing|~vaali|~valet|"
        "riksdagsval|valg|wybor|volby|volebni|alegeri|electoral|valasztas|valimis"
    ),
    "candidate": _stems("candidat|kandidat|candidato|kandidaat|ehdokas|ehdokkaa|kandydat|jelolt"),
    "party": _stems("~partei|parti |partito|partido|~partij|~puolue|partiet|partia|strana|partidul|part |erakond"),
    "parliament": _stems(
        "parliament|congress|senate|senator|legislat|~parlament|bundestag|landtag|nationalrat|parlement|"
        "assemblee nationale|senat|parlamento|deputat|camera dei|congreso|diputad|tweede kamer|eduskunta|"
        "kansanedustaj|riksdag|folketing|storting|sejm|posel|poslan|orszaggyules|kepviselo|riigikogu"
    ),
    "government": _stems(
        "government|govern|~regierung|gouvernement|governo|gobierno|~regering|hallitus|hallituks|"
        "regjering|rzad|vlada|guvern|kormany|valitsus|ministry|ministerium|ministere|ministero|"
        "ministerio|ministerie|ministerio|ministeri|departement"
    ),
    "office": _stems(
        "minister|chancellor|kanzler|president|prasident|presidente|presidentti|mayor|burgermeister|"
        "maire|sindaco|alcalde|prefeito|burgemeester|pormestari|borgmastare|borgmester|ordforer|"
        "burmistrz|starosta|primar|polgarmester|premier|prime minister|pääministeri|paaministeri|"
        "statsminister|premierminister|primo ministro|councillor|gemeinderat|conseiller|consigliere|"
        "concejal|gemeenteraad|valtuut|kommunfullmaktig|mp |mep|europaabgeordnet|eurodeput|europarlament"
    ),
    "democracy": _stems("democra|demokrat|democrat|democrazi|democratie|demokrati|demokracj|demokraci|demokrac"),
    "campaign": _stems(
        "campaign|~kampagne|~wahlkampf|campagne|campagna|campana|campanha|~kampanja|kampanj|kampani|kampan|kampany"
    ),
    "politics": _stems("~politi|~polityk|politic|politik|politique|politica|politiek|politiikka|politika"),
    "law": _stems(
        "legislation|~gesetz|loi |legge|ley |lei |wet |wetsvoorstel|~lakia|lagen|lovgivning|ustaw|zakon|"
        "legea|torveny|seadus|referend|volksabstimmung|volksbegehren|kansanaanest|folkomrost|"
        "folkeafstemning"
    ),
    "tax": _stems(
        "tax|taxes|~steuer|impot|taxe|tasse|fiscal|fisco|impuesto|imposto|~belasting|~verotu|verojen|"
        "~skatt|~skat|podat|dane|impozit|ado |maksu"
    ),
    "citizens": _stems(
        "citizen|~burger|citoyen|cittadin|ciudadan|cidada|~burger|kansalai|medborgar|borger|obywatel|"
        "obcan|cetatean|allampolgar|kodanik"
    ),
    "rights": _stems(
        "rights|justice|equality|~rechte|gerechtigkeit|droits|egalite|diritti|giustizia|uguaglianza|"
        "derechos|justicia|igualdad|direitos|rechten|gelijkheid|oikeuks|oikeude|tasa-arvo|rattighet|"
        "jamlik|rettighed|ligestill|prawa|rownosc|sprawiedliw|prava|spravedl|drepturi|justiti|egalitate|"
        "jogok|igazsag|egyenloseg|oigus|vordsus"
    ),
    "petition": _stems(
        "petition|unterschreib|petition|signez|petizione|firma la|peticion|peticao|assine|petitie|"
        "teken de|vetoomu|adressi|namninsamling|underskriv|petycj|petice|petiti|petici"
    ),
    "environment": _stems(
        "climate|environment|~klima|~umwelt|climat|environnement|clima|ambiente|ambiental|~klimaat|"
        "milieu|~ilmasto|ymparisto|~miljo|srodowisk|zivotni prostredi|mediu|kornyezet|keskkond"
    ),
    "migration": _stems(
        "immigra|migra|refugee|asylum|~fluchtling|~asyl|refugie|asile|rifugiat|asilo|refugiad|"
        "~vluchteling|asiel|~pakolai|turvapaik|~flykting|~flygtning|uchodz|uprchl|refugiat|menekult|"
        "pagulas"
    ),
    "labour": _stems(
        "union|workers|wages|pension|~gewerkschaft|arbeitnehm|~rente|syndicat|travailleur|retraite|"
        "sindacat|lavorator|pensione|sindicato|trabajador|pension|aposentad|~vakbond|werknemer|pensioen|"
        "ammattiliit|tyontekij|~elake|fackforbund|lontagar|fagforening|zwiazk|emeryt|odbor|duchod|"
        "sindicat|pensi|szakszervezet|nyugdij|ametiuhing|pensionar"
    ),
    "public": _stems(
        "public service|public health|healthcare|hospital|school|education|pflege|krankenhaus|bildung|"
        "schule|hopital|ecole|education|sanita|ospedal|scuola|istruzione|sanidad|hospital|escuela|"
        "educacion|saude|escola|zorg|ziekenhuis|onderwijs|~terveydenhuol|sairaala|koulu|koulutus|"
        "sjukvard|skola|sundhed|skole|szpital|szkol|edukacj|nemocnic|skolstvi|spital|scoala|korhaz|"
        "iskola|haigla|kool"
    ),
    "ideology": _stems(
        "socialdem|sozialdem|sosialidem|socialis|sozialis|sosialis|conservat|konservativ|konservati|"
        "liberal|liberaal|communis|kommunis|populis|nationalis|nationalist|green party|grune|grunen|"
        "groen|vihrea|vihreat|verts|verdi|verdes|miljopartiet|labor |labour|tory|tories|republican|"
        "democrats|the left|die linke|la gauche|sinistra|izquierda|vasemmisto|vanster|lewic|levic"
    ),
    "freedom": _stems(
        "freedom|liberty|~freiheit|liberte|liberta|libertad|liberdade|vrijheid|~vapau|frihet|frihed|"
        "wolnosc|svobod|libertate|szabadsag|vabadus"
    ),
    "nation": _stems(
        "our country|unser land|notre pays|il nostro paese|nuestro pais|nosso pais|ons land|suomen|"
        "sverige|danmark|norge|polsk|cesk|romania|magyarorszag|eesti|osterreich|schweiz|deutschland|"
        "italia|belgi|australia|canada|nation"
    ),
}
COMMERCIAL: dict[str, tuple[str, ...]] = {
    "buy": _stems(
        "buy|shop|order now|store|~kauf|~shop|bestell|achet|boutique|commande|acquist|compra|negozio|"
        "ordina|tienda|compre|loja|koop|winkel|bestel|osta|kauppa|~tilaa|kop |butik|bestall|kob |bestil|"
        "kup |sklep|zamow|koupit|obchod|objedn|cumpar|magazin|comand|vasarol|bolt|rendel|osta"
    ),
    "discount": _stems(
        "sale|discount|% off|deal|save |~rabatt|angebot|sparen|reduziert|promo|soldes|reduction|remise|"
        "sconto|offerta|saldi|descuento|oferta|rebaja|desconto|promocao|korting|aanbieding|uitverkoop|"
        "alennus|tarjous|~ale |rea |erbjudande|tilbud|rabat|promocj|znizk|sleva|akce|reducer|ofert|akcio|"
        "kedvezmeny|soodus|allahindlus"
    ),
    "delivery": _stems(
        "shipping|delivery|versand|lieferung|livraison|spedizion|consegna|envio|frete|entrega|verzending|"
        "levering|toimitus|frakt|leverans|fragt|dostaw|doprava|doruceni|livrare|szallitas|tarne"
    ),
    "price": _stems("price|~preis|prix|prezzo|precio|preco|prijs|~hinta|~pris|cena|pret |ar |hind|eur |usd|€|$|£"),
    "product": _stems(
        "collection|product|quality|fashion|style|~kollektion|produkt|qualitat|collection|produit|"
        "qualite|collezion|prodott|qualita|coleccion|producto|calidad|colecao|produto|collectie|"
        "kwaliteit|mallisto|~tuote|laatu|kvalitet|kolekcj|jakosc|kolekce|kvalit|colecti|produs|calitate|"
        "kollekcio|termek|minoseg|toode|kvaliteet"
    ),
    "app": _stems(
        "download|app |subscribe|herunterlad|~abonn|telecharg|scarica|abbona|descarga|suscrib|baixe|"
        "assin|lataa|~tilaa|ladda ner|prenumer|pobierz|subskryb|stahn|predplat|descarc|letolt|elofizet|"
        "laadi alla"
    ),
    "travel": _stems(
        "hotel|flight|holiday|vacation|booking|travel|~urlaub|~reise|flug|voyage|vacances|vol |viaggi|"
        "vacanz|volo|viaje|vacacion|vuelo|viagem|ferias|reis |vakantie|vlucht|~matka|~loma|lento|resa|"
        "semester|rejse|ferie|podroz|wakacj|cestov|dovolen|calatori|vacant|utazas|nyaralas|reis"
    ),
    "food": _stems(
        "recipe|delicious|restaurant|pizza|coffee|burger|~rezept|lecker|recette|delicieu|ricetta|"
        "delizios|receta|delicios|recept|heerlijk|~resepti|herkullinen|~ruoka|god mat|opskrift|laekker|"
        "przepis|pyszn|chutn|retet|finom|retsept|maitsev"
    ),
    "contest": _stems(
        "win |giveaway|contest|prize|~gewinn|gagne|concours|vinci|concorso|gana|sorteo|concurso|ganhe|"
        "sorteio|winnen|winactie|voita|arvonta|vinn|tavling|vind |konkurrence|wygraj|konkurs|vyhraj|"
        "soutez|castig|concurs|nyerj|nyeremeny|voida|loos"
    ),
    "entertainment": _stems(
        "movie|film|series|season|episode|trailer|netflix|music|album|concert|festival|game|spiel|jeu |"
        "gioco|juego|jogo|spel|peli|spil|gra |hra |joc |jatek|mang"
    ),
}
CONCEPTS = tuple(POLITICAL) + tuple(COMMERCIAL)


def _pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    inside = [re.escape(s[1:]) for s in stems if s.startswith("~")]
    start = [re.escape(s) for s in stems if not s.startswith("~")]
    parts = []
    if start:
        parts.append(r"(?<!\w)(?:" + "|".join(sorted(set(start), key=len, reverse=True)) + ")")
    if inside:
        parts.append("(?:" + "|".join(sorted(set(inside), key=len, reverse=True)) + ")")
    return re.compile("|".join(parts))


PATTERNS = {name: _pattern(stems) for name, stems in {**POLITICAL, **COMMERCIAL}.items()}
_URL = re.compile(r"https?://\S+|www\.\S+")
_NAME = re.compile(r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+ [A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+\b")
_DIGITS = re.compile(r"\d")
_MONEY = re.compile(r"[€$£¥]|\b\d+[.,]?\d*\s?(?:eur|usd|kr|zl|kc|chf)\b|\d+\s?%", re.I)
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
STRUCTURE = (
    "urls", "hashtags", "mentions", "exclaim", "question", "money", "names", "digits", "emoji", "upper", "length",
    "quote",
)  # fmt: skip
N_DENSE = len(CONCEPTS) + len(STRUCTURE)


@lru_cache(maxsize=50_000)
def dense_features(text: str) -> tuple[float, ...]:
    """Concept indicators (0/1) then structural features, each roughly within [0, 1]."""
    folded = " " + fold(_URL.sub(" ", text)) + " "
    concepts = [1.0 if PATTERNS[name].search(folded) else 0.0 for name in CONCEPTS]
    words = max(len(text.split()), 1)
    letters = [c for c in text if c.isalpha()]
    structure = [
        min(len(_URL.findall(text)), 3) / 3,
        min(text.count("#"), 5) / 5,
        min(text.count("@"), 5) / 5,
        min(text.count("!"), 5) / 5,
        min(text.count("?"), 5) / 5,
        min(len(_MONEY.findall(text)), 3) / 3,
        min(len(_NAME.findall(text)), 5) / 5,
        min(len(_DIGITS.findall(text)) / words, 1.0),
        min(len(_EMOJI.findall(text)), 5) / 5,
        (sum(1 for c in letters if c.isupper()) / len(letters)) if letters else 0.0,
        min(math.log1p(words) / 6, 1.0),
        1.0 if '"' in text or "“" in text or "«" in text else 0.0,
    ]
    return tuple(concepts + structure)


def dense_matrix(texts: list[str]) -> np.ndarray:
    return np.array([dense_features(t) for t in texts], dtype=np.float32).reshape(len(texts), N_DENSE)
