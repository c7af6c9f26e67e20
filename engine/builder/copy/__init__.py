"""COPY and ADD as in-process file operations.

- ``sources``: resolve a COPY/ADD's sources (context, stage, URL, archive).
- ``ops``: the copy itself, with Docker's ownership, mode and link rules.
- ``outcome``: what a copy staged: the owners its layer must carry, the files it linked, its paths.
- ``tree``: stage the copied tree, then write it as a layer.
- ``archive``: ADD's local-archive extraction.
- ``remote``: ADD's URL download.
- ``ownership``: ``--chown`` names and ``--chmod`` modes as numbers.
- ``reuse``: link the files an edit rebuild would write unchanged from the step's previous layer.
"""
