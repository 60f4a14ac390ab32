"""The sample business's website (a development tool): Kopi Senja's shop page, with
products as schema.org JSON-LD and in the visible text, like many small-shop sites."""

from __future__ import annotations

import json

from flask import Flask, Response

PRODUCTS = [("Kopi Susu Gula Aren", "25000"), ("Es Kopi Pandan", "28000"),
            ("Biji Kopi Gayo 250g", "95000"), ("Manual Brew Toraja", "32000")]


def page() -> str:
    ld = [{"@context": "https://schema.org", "@type": "Product", "name": name,
           "offers": {"@type": "Offer", "price": price, "priceCurrency": "IDR"}}
          for name, price in PRODUCTS]
    items = "".join(f"<li class='product'><h3>{n}</h3><span class='price'>Rp {p}</span></li>"
                    for n, p in PRODUCTS)
    return f"""<!doctype html><html lang="id"><head><meta charset="utf-8">
<title>Kopi Senja — Kopi Nusantara di Jakarta Selatan</title>
<meta name="description" content="Kedai kopi lokal: kopi susu gula aren, biji kopi Nusantara,
pesan antar setiap hari.">
<script type="application/ld+json">{json.dumps(ld)}</script></head>
<body><h1>Kopi Senja</h1><p>Sejak 2019 kami menyangrai biji kopi dari petani Gayo, Toraja
dan Flores. Tempat nongkrong hangat di Jakarta Selatan.</p><ul>{items}</ul>
<img src="/static/kedai.jpg" alt="Kedai Kopi Senja"></body></html>"""


def create_app() -> Flask:
    app = Flask("website_standin")

    @app.get("/")
    def index() -> Response:
        return Response(page(), mimetype="text/html")

    @app.get("/go-internal")
    def redirect_internal() -> Response:
        # For SSRF tests: a public-looking page that redirects to the metadata server.
        return Response("", status=302,
                        headers={"Location": "http://169.254.169.254/computeMetadata/v1/"})

    return app
