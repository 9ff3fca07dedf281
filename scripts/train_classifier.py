"""Train the tiny fastText quality classifier that the `classifier` step's tests load.

It is a toy: a few dozen lines of educational prose (`__label__hq`) against spam and page
boilerplate (`__label__lq`), all written for this script, so the tests have a real fastText
model file to load without downloading one. A real quality classifier (DCLM's, or one trained
on FineWeb-Edu annotations) is trained the same way on far more text.

Training needs the full `fasttext` package, which clashes with the `fasttext-predict` module
that tamis uses at run time (both install a `fasttext` module), so it runs in its own venv:

    python3 -m venv .venv-train && .venv-train/bin/pip install fasttext numpy
    .venv-train/bin/python scripts/train_classifier.py

(`fasttext` 0.9.3 built from PyPI with numpy 2.4 worked; `fasttext-wheel` is the fallback.)
It writes `tests/fixtures/tiny_classifier.ftz` (quantized, a few KB). Training is
single-threaded with a fixed seed, so a rerun gives the same model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import fasttext

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny_classifier.ftz"

GOOD = [
    "Photosynthesis is the process by which plants use light energy to turn water and carbon "
    "dioxide into glucose and oxygen.",
    "The French Revolution began in 1789 and ended the absolute monarchy, changing how power "
    "was shared in Europe.",
    "To find the area of a triangle, multiply the base by the height and divide the result "
    "by two.",
    "Mitochondria release energy from food through cellular respiration, which is why they "
    "are called the powerhouse of the cell.",
    "A verb is a word that describes an action or a state, and its form changes with the "
    "tense of the sentence.",
    "Rivers carry sediment from the mountains to the sea, and over thousands of years they "
    "carve valleys into the rock.",
    "The heart has four chambers: two atria receive blood and two ventricles pump it out to "
    "the lungs and the body.",
    "In a democracy, citizens elect representatives who make laws and can be voted out at the "
    "next election.",
    "Fractions describe parts of a whole; the denominator tells how many equal parts the "
    "whole is divided into.",
    "Sound travels as a wave of pressure through air, water or solids, and it moves faster in "
    "denser materials.",
    "The water cycle moves water between the oceans, the air and the land through "
    "evaporation, condensation and rain.",
    "Newton's first law states that an object stays at rest or in uniform motion unless a "
    "force acts on it.",
    "Volcanoes form where molten rock from the mantle rises through cracks in the crust and "
    "erupts at the surface.",
    "A paragraph should develop one main idea, introduced by a topic sentence and supported "
    "by examples and evidence.",
    "The printing press, developed around 1450, made books cheaper and helped spread literacy "
    "across Europe.",
    "Prime numbers have exactly two divisors, one and themselves; two is the only even prime "
    "number.",
    "Vaccines train the immune system to recognise a germ so that the body can fight it "
    "quickly if it ever meets it.",
    "Climate describes the average weather of a region over many years, while weather is what "
    "happens on a given day.",
    "The Roman Empire built roads and aqueducts that connected its provinces and supplied its "
    "cities with water.",
    "In chemistry, a compound is made of two or more elements joined in fixed proportions by "
    "chemical bonds.",
    "Students learn to solve linear equations by doing the same operation on both sides until "
    "the unknown stands alone.",
    "Earthquakes happen when stress builds up along a fault and the rocks on either side "
    "suddenly slip past each other.",
    "A good scientific experiment changes one variable at a time and keeps every other "
    "condition the same.",
    "The digestive system breaks food down into nutrients that the small intestine absorbs "
    "into the blood.",
    "Shakespeare wrote tragedies, comedies and histories, and many of his phrases are still "
    "used in English today.",
    "Electric current is the flow of charge through a conductor, measured in amperes with an "
    "ammeter.",
    "Ecosystems depend on producers, consumers and decomposers, which together recycle energy "
    "and nutrients.",
    "The Pythagorean theorem says that in a right triangle the square of the hypotenuse equals "
    "the sum of the squares of the other sides.",
    "Plate tectonics explains how the continents drift slowly over millions of years on the "
    "moving plates of the lithosphere.",
    "When you write an essay, plan the argument first, then draft, revise and check the "
    "spelling and grammar.",
    "Gravity pulls objects toward each other; the more mass they have, the stronger the "
    "attraction between them.",
    "Cells divide by mitosis to grow and repair tissue, producing two daughter cells with the "
    "same chromosomes.",
    "The industrial revolution moved work from farms and homes into factories powered by "
    "steam engines.",
    "Light bends when it passes from air into water, which is why a straw in a glass looks "
    "broken.",
    "A map scale shows how distances on the map relate to real distances on the ground.",
]

BAD = [
    "Click here to claim your free prize now!!! Limited offer, act fast!!!",
    "Buy cheap watches online best price free shipping discount code SALE50",
    "Home | About | Contact | Privacy Policy | Terms of Service | Sitemap",
    "We use cookies to improve your experience. Accept all cookies? Yes No Settings",
    "Subscribe to our newsletter and never miss a deal! Enter your email below",
    "Hot singles in your area want to meet you tonight click now",
    "Copyright 2023 All rights reserved. Powered by WordPress. Theme by Example",
    "You won't believe what happened next!!! Number 7 will shock you",
    "Share on Facebook Share on Twitter Pin it Email Print",
    "casino bonus casino slots free spins casino online win money casino",
    "Log in | Register | Forgot password? | Remember me",
    "Make $5000 a week working from home, no experience needed, sign up today",
    "Related posts: Top 10 gadgets, Best deals of the week, Shop now",
    "Read more >> Next page >> Previous page << Back to top",
    "cheap viagra cialis pills online pharmacy no prescription best price",
    "Leave a comment Cancel reply Your email address will not be published",
    "BREAKING!!! Celebrity secret revealed, doctors hate this one weird trick",
    "Add to cart Add to wishlist Compare Quick view Out of stock",
    "Follow us on Instagram YouTube TikTok for more giveaways and promo codes",
    "loans loans fast loans bad credit ok instant approval apply now loans",
    "Skip to main content Toggle navigation Search Menu Close",
    "Sponsored content: this amazing cream removes wrinkles overnight, order today",
    "Tags: news, sale, best, cheap, free, online, shop, buy, deal, offer",
    "Download free movies mp3 crack keygen serial full version no virus",
    "All fields are required. Submit Reset Captcha: enter the code above",
    "Posted by admin at 10:42 PM 0 comments Labels: uncategorized",
    "Winner winner!!! You have been selected, send your bank details to claim",
    "Best price guaranteed, lowest prices, hurry while stocks last, buy buy buy",
    "Page 1 of 24 First Prev 1 2 3 4 5 Next Last",
    "Advertisement Advertisement Advertisement Continue reading below",
    "Lose 20 pounds in 10 days with this miracle pill, click the link now",
    "Accept Decline Manage preferences Cookie policy Necessary Analytics Marketing",
    "Trending now: shocking photos, viral videos, you need to see this",
    "Get rich quick with crypto, guaranteed returns, join our group today",
    "Powered by Shopify Currency USD EUR GBP Language English Deutsch",
]


def main() -> None:
    lines = [f"__label__hq {text}" for text in GOOD] + [f"__label__lq {text}" for text in BAD]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "train.txt"
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
        model = fasttext.train_supervised(
            input=str(data), epoch=60, lr=0.5, wordNgrams=2, minn=3, maxn=5, dim=16,
            bucket=5_000, thread=1, seed=1, verbose=0)
        model.quantize(input=str(data), qnorm=True, retrain=False, cutoff=0)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(OUT))
    print(f"{OUT}: {OUT.stat().st_size:,} bytes, labels {model.get_labels()}")


if __name__ == "__main__":
    main()
