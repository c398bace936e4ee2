"""Prometheus text rendering of /metrics."""

from harombe.api.metrics import Sample, render


def test_one_header_per_metric_and_labels_escaped():
    text = render(
        [
            Sample("harombe_members", 3, "Members by state.", labels={"state": "alive"}),
            Sample("harombe_members", 1, "Members by state.", labels={"state": "dead"}),
            Sample("harombe_dropped_total", 2, "Drops.", "counter", {"reason": 'a"b\\c\nd'}),
            Sample("harombe_requests_active", 0.5, "Active."),
        ]
    )
    lines = text.splitlines()
    assert lines.count("# TYPE harombe_members gauge") == 1
    assert 'harombe_members{state="alive"} 3' in lines
    assert 'harombe_members{state="dead"} 1' in lines
    assert "# TYPE harombe_dropped_total counter" in lines
    assert 'harombe_dropped_total{reason="a\\"b\\\\c\\nd"} 2' in lines
    assert "harombe_requests_active 0.5" in lines
    assert text.endswith("\n")
