"""Privacy rules as the capture process applies them (fastrec.privacy.screen_rules): where a
region rule lands in a captured region of any size, which windows a window rule matches,
and what the policy's presets turn into.  Pure: no display."""

from __future__ import annotations

import pickle

from fastrec.capture.base import Region
from fastrec.capture.matching import WindowInfo
from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.policy.document import parse_policy
from fastrec.privacy.pii_kinds import PiiKind
from fastrec.privacy.screen_rules import PiiRule, RegionRule, ScreenRules, WindowRule, screen_rules


def test_a_percent_rule_follows_the_captured_region_and_rounds_outwards():
    rule = RegionRule(10, 10, 25, 50, percent=True)
    assert rule.region_in(1000, 800) == Region(100, 80, 250, 400)
    # a resized window: the same share, partly covered pixels included
    assert rule.region_in(333, 101) == Region(33, 10, 84, 51)  # 33.3..116.55, 10.1..60.6


def test_a_pixel_rule_is_clipped_to_the_captured_region():
    rule = RegionRule(300, 100, 200, 50, percent=False)
    assert rule.region_in(400, 300) == Region(300, 100, 100, 50)
    assert rule.region_in(200, 300) is None  # outside a smaller region: nothing to mask


def test_a_window_rule_needs_every_matcher_given_and_masks_the_window_frame_inside_the_region():
    bank = WindowInfo(1, Region(110, 120, 200, 100), frame=Region(100, 100, 210, 120),
                      process_name="firefox", classes=("Navigator", "firefox"), title="MyBank - Online Banking")
    other = WindowInfo(2, Region(0, 0, 50, 50), process_name="firefox", title="News")
    hidden = WindowInfo(3, Region(0, 0, 50, 50), title="MyBank - Online Banking", mapped=False, minimised=True)
    rules = ScreenRules(1, windows=(WindowRule(titles=("*bank*",), processes=("firefox",), kind=MaskKind.BLUR),))
    assert rules.masks(Region(50, 50, 200, 200), [bank, other, hidden]) == [
        MaskRegion(50, 50, 150, 120, MaskKind.BLUR)]
    assert not WindowRule(titles=("*bank*",), processes=("keepass*",)).matches(bank)


def test_rules_from_the_policy_keep_their_masks_and_carry_the_pii_rules_to_ocr():
    policy = parse_policy("""
privacy:
  presets: [passwords, emails]
  rules:
    - {name: panel, region: {x: 0, y: 90, width: 100, height: 10, unit: "%"}}
""")
    rules = screen_rules(policy.privacy.effective_rules(), version=7)
    assert rules.version == 7
    assert [r.kind for r in rules.windows] == [MaskKind.BLOCK, MaskKind.BLOCK]
    assert rules.regions == (RegionRule(0, 90, 100, 10, percent=True, kind=MaskKind.BLOCK, name="panel"),)
    assert rules.pii == (PiiRule(frozenset({PiiKind.EMAIL}), MaskKind.REDACT, (), "preset emails"),)
    assert rules.pii_names == ["preset emails"]
    assert pickle.loads(pickle.dumps(rules)) == rules  # what crosses to the capture process
