"""What the every-page browser test checks on each page, besides axe-core:

- focus rings: every focusable element, once focused (the first ones by pressing Tab, the
  rest by focusing them as the keyboard would), shows an outline at least 2 px wide whose
  colour contrasts at least 3:1 with the colours next to it (WCAG 2.2, 1.4.11 and 2.4.13):
  the background behind the element and, where the outline touches the element
  (outline-offset 0 or less), the element's own background;
- width: at 375 px, no page is wider than the screen;
- coverage: which GET routes of identity's web routers and of the portal a tour visited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from playwright.async_api import Page

MIN_RING_CONTRAST = 3.0
MIN_RING_WIDTH = 2.0
TABBED = 4  # focusables reached by real Tab presses on each page; the rest focused directly

FOCUSABLE = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex='-1'])"
)

# The focus ring of an element and the colours next to it.
RING_JS = """
function ring(el) {
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const opaque = (c) => !/^rgba\\(.*,\\s*0\\)$/.test(c) && c !== 'transparent';
  let behind = 'rgb(255, 255, 255)';
  for (let node = el.parentElement; node; node = node.parentElement) {
    const bg = getComputedStyle(node).backgroundColor;
    if (opaque(bg)) { behind = bg; break; }
  }
  const label = (el.innerText || el.value || el.getAttribute('aria-label') || el.id || '')
    .trim().slice(0, 40);
  return {
    element: `${el.tagName.toLowerCase()} "${label}"`,
    style: style.outlineStyle, width: parseFloat(style.outlineWidth) || 0,
    offset: parseFloat(style.outlineOffset) || 0, color: style.outlineColor,
    behind, own: opaque(style.backgroundColor) ? style.backgroundColor : behind,
  };
}
function focusables(selector) {
  return [...document.querySelectorAll(selector)].filter(
    (e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden' && !e.disabled);
}
"""

# After a Tab press: the ring of the element that has the focus.
TABBED_RING_JS = "() => { " + RING_JS + " return ring(document.activeElement); }"

# The rings of the focusables after the first `skip`, each focused as the keyboard would.
OTHER_RINGS_JS = (
    "([selector, skip]) => { "
    + RING_JS
    + """
  return focusables(selector).slice(skip).map((el) => {
    el.focus({focusVisible: true});
    return document.activeElement === el ? ring(el) : null;
  });
}"""
)

COUNT_JS = "(selector) => { " + RING_JS + " return focusables(selector).length; }"

# The elements sticking out past the right edge of the screen (deepest first).
OVERFLOW_JS = """
(width) => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > width + 0.5)
  .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > width + 0.5))
  .slice(0, 5)
  .map((e) => `${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''} ` +
    `(${Math.round(e.getBoundingClientRect().right)} px): ` +
    (e.innerText || '').trim().slice(0, 40))
"""


def rgb(css: str) -> tuple[float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)[:3]]
    assert len(numbers) == 3, f"not a colour: {css}"
    return numbers[0], numbers[1], numbers[2]


def luminance(colour: tuple[float, float, float]) -> float:
    """Relative luminance (WCAG 2.x)."""

    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(rgb(a)), luminance(rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def ring_problem(ring: dict[str, Any]) -> str | None:
    """What is wrong with one focused element's ring, if anything."""
    if ring["style"] in ("none", "hidden") or ring["width"] < MIN_RING_WIDTH:
        return f"{ring['element']}: no visible outline ({ring['style']} {ring['width']}px)"
    adjacent = [ring["behind"]] + ([ring["own"]] if ring["offset"] <= 0 else [])
    worst = min(contrast(ring["color"], colour) for colour in adjacent)
    if worst < MIN_RING_CONTRAST:
        return (
            f"{ring['element']}: outline {ring['color']} against {' and '.join(adjacent)} "
            f"has contrast {worst:.2f}:1"
        )
    return None


async def focus_ring_problems(page: Page) -> tuple[int, list[str]]:
    """Focus every focusable element of the page in turn: how many, and what is wrong."""
    count: int = await page.evaluate(COUNT_JS, FOCUSABLE)
    await page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    rings = []
    for _ in range(min(count, TABBED)):
        await page.keyboard.press("Tab")
        rings.append(await page.evaluate(TABBED_RING_JS))
    if count > TABBED:
        rings.extend(await page.evaluate(OTHER_RINGS_JS, [FOCUSABLE, TABBED]))
    await page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    problems = {p for ring in rings if ring is not None and (p := ring_problem(ring))}
    return count, sorted(problems)


async def overflow(page: Page, width: int) -> str | None:
    """Why the page is wider than `width` pixels, or None when it fits."""
    scroll_width: int = await page.evaluate("() => document.documentElement.scrollWidth")
    if scroll_width <= width:
        return None
    culprits: list[str] = await page.evaluate(OVERFLOW_JS, width)
    return f"{scroll_width} px wide; sticking out: " + "; ".join(culprits)


@dataclass(frozen=True)
class RouteTemplate:
    path: str
    pattern: re.Pattern[str]


def get_routes(routes: Any, module_prefix: str) -> list[RouteTemplate]:
    """The GET routes whose endpoints live under `module_prefix`."""
    found = {}
    for route in iter_route_contexts(routes):
        endpoint = getattr(route, "endpoint", None)
        module = getattr(endpoint, "__module__", "") or ""
        if not (route.path and route.methods and "GET" in route.methods):
            continue
        if module.startswith(module_prefix):
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route.path))
            found[route.path] = RouteTemplate(route.path, re.compile(f"^{regex}$"))
    return sorted(found.values(), key=lambda r: r.path)
