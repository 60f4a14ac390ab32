"""Reading what a business publishes about itself, the way a person would: its bio link
(short links, link-in-bio pages, chat and marketplace links), its own site's main text and
structured data, and the products and prices in its captions. Pure functions over text
and HTML; the fetching stays in `jiwa.scrape` and the wave (`jiwa.waves.website`)."""
