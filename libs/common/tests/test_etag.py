"""ETag comparison rules (pure: no database; also the unit tests `make mutants` runs)."""

import pytest
from tansiq_common.etag import etag_for, expected_version, require_if_match
from tansiq_common.problems import PreconditionFailed, PreconditionRequired


def test_the_etag_is_the_version_in_quotes():
    assert etag_for(3) == '"3"'
    assert etag_for(12) == '"12"'


@pytest.mark.parametrize(
    "if_match",
    ['"3"', ' "3" ', '"1", "3"', '"3","4"', '"1" , "3" ,', "*", '"2", *'],
)
def test_an_if_match_naming_the_current_version_or_any_passes(if_match):
    require_if_match(if_match, 3)  # no exception: the update may go ahead


@pytest.mark.parametrize(
    "if_match",
    [
        'W/"3"',  # weak: RFC 9110 If-Match compares strongly, a weak tag never matches
        'W/"1", W/"3"',
        'w/"3"',
        '"2"',
        '"33"',
        '"03"',
        "3",  # not an entity tag
        '"3',
        ",",
        '"1", "2"',
    ],
)
def test_any_other_if_match_is_412_stale_etag_naming_the_current_one(if_match):
    with pytest.raises(PreconditionFailed) as caught:
        require_if_match(if_match, 3)
    problem = caught.value
    assert problem.status == 412
    assert problem.slug == "stale-etag"
    assert problem.extra == {"current_etag": '"3"'}
    assert problem.body()["type"] == "urn:tansiq:problem:stale-etag"
    assert problem.body()["current_etag"] == '"3"'
    assert problem.body()["detail"] == (
        "The record changed since you read it; read it again and reapply your change."
    )


@pytest.mark.parametrize("if_match", [None, ""])
def test_a_missing_if_match_is_428(if_match):
    with pytest.raises(PreconditionRequired) as caught:
        require_if_match(if_match, 1)
    assert caught.value.status == 428
    assert caught.value.slug == "if-match-required"
    assert caught.value.body()["detail"] == (
        "This update needs an If-Match header with the ETag you last read."
    )


@pytest.mark.parametrize(
    ("if_match", "version"),
    [('"7"', 7), ('"12"', 12), (' "7" ', 7), ('W/"1", "7"', 7), ('"x", "8", "9"', 8)],
)
def test_expected_version_reads_the_first_strong_etag(if_match, version):
    assert expected_version(if_match) == version


@pytest.mark.parametrize(
    "if_match",
    ['"abc"', 'W/"7"', "7", "1234", '""', '"', '"²"', '"-1"', '"7', '"77', '7"', "*", '"7 "'],
)
def test_expected_version_refuses_what_is_no_strong_etag_of_this_api(if_match):
    with pytest.raises(PreconditionFailed) as caught:
        expected_version(if_match)
    assert caught.value.status == 412
    assert caught.value.slug == "stale-etag"
    assert caught.value.body()["detail"] == "The If-Match header names no ETag of this API."


@pytest.mark.parametrize("if_match", [None, ""])
def test_expected_version_needs_an_if_match(if_match):
    with pytest.raises(PreconditionRequired) as caught:
        expected_version(if_match)
    assert caught.value.status == 428
    assert caught.value.slug == "if-match-required"
