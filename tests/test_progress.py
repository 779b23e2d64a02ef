import io
import time

from vidpred.progress import LOG_INTERVAL_S, progress_bar


def test_a_bar_written_to_a_log_draws_few_lines():
    log = io.StringIO()  # not a terminal
    for _ in progress_bar(range(2000), desc="work", stream=log):
        time.sleep(0.0005)
    lines = [x for x in log.getvalue().replace("\r", "\n").splitlines() if x.strip()]
    assert LOG_INTERVAL_S >= 10 and 1 <= len(lines) <= 3, lines
    assert "2000/2000" in lines[-1]


def test_a_disabled_bar_writes_nothing():
    log = io.StringIO()
    assert sum(progress_bar(range(5), stream=log, disable=True)) == 10
    assert log.getvalue() == ""
