"""Dry-run checks that need no node: is each role's image (and checksum file) reachable.

Only ``http(s)`` URLs are checked, with a HEAD request from where ``ingot deploy`` runs;
``file://`` URLs and paths live on the conductor's side and are checked when it stages them.
"""

from __future__ import annotations

import httpx

from ingot.images.checksum import is_url
from ingot.plans.model import Plan


def url_problem(url: str, *, timeout: float = 10.0) -> str | None:
    """Why ``url`` cannot be fetched, or None when it answers 2xx/3xx."""
    try:
        response = httpx.head(url, timeout=timeout, follow_redirects=True)
        if response.status_code in (405, 501):  # servers that refuse HEAD
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as streamed:
                response = streamed
    except httpx.HTTPError as exc:
        return f"{url} is not reachable ({exc})"
    if response.status_code >= 400:
        return f"{url} answers HTTP {response.status_code}"
    return None


def image_problems(plan: Plan, *, timeout: float = 10.0) -> list[str]:
    """One line per unreachable image, kernel, ramdisk or checksum URL, naming the role."""
    problems: list[str] = []
    checked: dict[str, str | None] = {}
    for role in plan.roles.values():
        image = role.image
        fields = {
            "source": image.source, "checksum": image.checksum,
            "kernel": image.kernel, "ramdisk": image.ramdisk,
        }  # fmt: skip
        for key, url in fields.items():
            if not url or not is_url(url) or not url.startswith(("http://", "https://")):
                continue
            if url not in checked:
                checked[url] = url_problem(url, timeout=timeout)
            if checked[url]:
                problems.append(f"role '{role.name}': image.{key}: {checked[url]}")
    return problems
