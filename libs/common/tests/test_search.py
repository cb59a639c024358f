from tansiq_common.search import normalize, query_terms, search_text


def test_alef_forms_fold_to_bare_alef():
    assert normalize("أإآٱ") == "اااا"


def test_taa_marbuta_and_alef_maqsura_fold():
    assert normalize("مؤسسة") == "مؤسسه"
    assert normalize("مستشفى") == "مستشفي"


def test_tashkeel_and_tatweel_are_dropped():
    assert normalize("الأُمَمُ المُتَّحِدَةُ") == normalize("الامم المتحده")
    assert normalize("التـــعاون") == "التعاون"


def test_hamza_on_waw_is_not_folded():
    # Only the listed foldings: ؤ spells a different word from و.
    assert normalize("مؤسسة") != normalize("موسسه")


def test_latin_case_and_spaces():
    assert normalize("  UNESCO   Doha ") == "unesco doha"


def test_latin_text_folds_as_mixed_text_does():
    # ASCII alone takes a shorter way; every whitespace (tabs, line and unit separators)
    # still becomes one space, as when Arabic is there too.
    assert normalize("\tUN\x1cHabitat\r\n DOHA\x0b") == "un habitat doha"
    assert normalize("\tUN\x1cHabitat\r\n DOHA\x0b أ") == "un habitat doha ا"
    assert normalize(" \t\x1f ") == ""


def test_presentation_forms_and_decomposed_madda_are_folded():
    assert normalize("ا\u0653") == "ا"  # alef + combining madda composes to آ, then folds
    assert normalize("\ufef7") == normalize("لأ")  # lam-alef ligature


def test_search_text_joins_every_field_and_query_terms_split():
    text = search_text("الأمم المتحدة", "United Nations", None, "XM-DAC-41114")
    assert text == "الامم المتحده united nations xm-dac-41114"
    assert query_terms(" الأُمم  UNITED ") == ["الامم", "united"]
    assert normalize(None) == ""
