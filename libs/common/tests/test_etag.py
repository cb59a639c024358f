import pytest
from tansiq_common.etag import etag_for, expected_version, require_if_match
from tansiq_common.problems import PreconditionFailed, PreconditionRequired


def test_matching_etag_passes():
    require_if_match('"3"', 3)
    require_if_match('W/"3"', 3)
    require_if_match('"1", "3"', 3)
    require_if_match("*", 3)


def test_missing_if_match_is_428():
    with pytest.raises(PreconditionRequired) as caught:
        require_if_match(None, 1)
    assert caught.value.status == 428


def test_stale_etag_is_412_and_names_the_current_one():
    with pytest.raises(PreconditionFailed) as caught:
        require_if_match('"2"', 3)
    assert caught.value.status == 412
    assert caught.value.extra["current_etag"] == etag_for(3)


def test_expected_version_reads_the_etag():
    assert expected_version('"7"') == 7
    with pytest.raises(PreconditionRequired):
        expected_version("")
    with pytest.raises(PreconditionFailed):
        expected_version('"abc"')
