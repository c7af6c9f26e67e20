"""Lint rules: each fires on its pattern, names the line, and stays quiet on the fixed form."""

from __future__ import annotations

from layerlab.engine.dockerfile import load_dockerfile
from layerlab.engine.dockerfile.lint import lint


def rules(text: str) -> list[tuple[int, str]]:
    return [(w.line, w.rule) for w in lint(load_dockerfile(text))]


def test_copy_everything_before_install():
    assert rules("FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n") == [(3, "copy-all-before-install")]
    assert rules("FROM node:20\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\n") == []


def test_apt_update_alone_and_lists_left():
    found = rules("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n")
    assert (2, "apt-update-alone") in found and (3, "package-cache-left") in found
    assert rules("FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n") == []


def test_other_package_caches():
    assert rules("FROM alpine:3.19\nRUN apk add curl\n") == [(2, "package-cache-left")]
    assert rules("FROM alpine:3.19\nRUN apk add --no-cache curl\n") == []
    assert rules("FROM python:3.12\nRUN pip install flask\n") == [(2, "package-cache-left")]
    assert rules("FROM python:3.12\nRUN --mount=type=cache,target=/root/.cache pip install flask\n") == []


def test_consecutive_runs_reported_once_per_streak():
    found = rules("FROM alpine:3.19\nRUN a\nRUN b\nRUN c\nWORKDIR /x\nRUN d\nRUN [\"e\"]\n")
    assert found == [(2, "consecutive-run")]
    message = lint(load_dockerfile("FROM alpine:3.19\nRUN a\nRUN b\n"))[0].message
    assert "lines 2-3" in message


def test_add_where_copy_suffices():
    assert rules("FROM alpine:3.19\nADD app.py /app/\n") == [(2, "add-instead-of-copy")]
    assert rules("FROM alpine:3.19\nADD rootfs.tar.gz /\nADD https://example.com/x /x\n") == []


def test_unpinned_bases_but_not_stages_scratch_or_digests():
    text = ("ARG BASE=ubuntu\nFROM $BASE AS build\nFROM build\nFROM scratch\nFROM alpine@sha256:" + "a" * 64 + "\n"
            "FROM registry:5000/team/img:latest\nFROM debian:12\n")
    assert rules(text) == [(2, "unpinned-base"), (6, "unpinned-base")]


def test_every_message_is_one_sentence_about_cache_or_size():
    text = ("FROM node\nCOPY . .\nRUN apt-get update\nRUN apt-get install -y x\nRUN npm ci\nADD a /a\n"
            "RUN apk add y\n")
    warnings = lint(load_dockerfile(text))
    assert {w.rule for w in warnings} == {"unpinned-base", "copy-all-before-install", "apt-update-alone",
                                         "package-cache-left", "consecutive-run", "add-instead-of-copy"}
    for warning in warnings:
        # One sentence: no full stop before the end (quoted instruction text aside).
        assert warning.message.replace("'COPY . .'", "").count(". ") == 0 and warning.message.endswith(".")
        assert "\n" not in warning.message
        assert any(word in warning.message for word in ("cache", "layer", "image"))
