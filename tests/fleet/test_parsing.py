import codecs

import pytest

from fleet.exceptions import LifecycleError
from fleet.parsing import normalize_mac, parse_mac_list


def _macs(text):
    return [line.mac for line in parse_mac_list(text)]


@pytest.mark.parametrize(
    "written",
    [
        "AA:BB:CC:DD:EE:0F",
        "aa:bb:cc:dd:ee:0f",
        "aa-bb-cc-dd-ee-0f",
        "aabbccddee0f",
        "aabb.ccdd.ee0f",
    ],
)
def test_normalize_mac_accepts_common_spellings(written):
    assert normalize_mac(written) == "AA:BB:CC:DD:EE:0F"


@pytest.mark.parametrize("written", ["", "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:GG", "AABBCCDDEEFF00"])
def test_normalize_mac_rejects_non_macs(written):
    assert normalize_mac(written) is None


def test_parse_mac_list_tolerates_bom_blank_lines_and_crlf():
    data = codecs.BOM_UTF8 + b"aa-bb-cc-dd-ee-01\r\n\r\n  AABBCCDDEE02  \r\n\n"
    assert _macs(data) == ["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"]


def test_parse_mac_list_reads_utf16_with_bom():
    data = "aa:bb:cc:dd:ee:01\naa:bb:cc:dd:ee:02\n".encode("utf-16")
    assert _macs(data) == ["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"]


@pytest.mark.parametrize("sep", [",", ";", ", ", " ; "])
def test_parse_mac_list_accepts_comma_or_semicolon_lists(sep):
    text = sep.join(["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"]) + "\naa:bb:cc:dd:ee:03"
    assert _macs(text) == ["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "AA:BB:CC:DD:EE:03"]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_parse_mac_list_reads_the_mac_column_of_a_csv_with_header(delimiter):
    text = delimiter.join(["serial", "MAC address", "note"]) + "\n"
    text += delimiter.join(["S-1", "aa:bb:cc:dd:ee:01", "box 4"]) + "\n"
    text += delimiter.join(["S-2", "aa-bb-cc-dd-ee-02", ""]) + "\n"
    assert _macs(text) == ["AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"]


def test_parse_mac_list_skips_a_header_with_other_names():
    assert _macs("device\naa:bb:cc:dd:ee:01\n") == ["AA:BB:CC:DD:EE:01"]


def test_parse_mac_list_keeps_line_numbers_of_the_input():
    lines = parse_mac_list("mac\n\naa:bb:cc:dd:ee:01\n\n\naa:bb:cc:dd:ee:02")
    assert [(line.line, line.value) for line in lines] == [
        (3, "aa:bb:cc:dd:ee:01"),
        (6, "aa:bb:cc:dd:ee:02"),
    ]


def test_parse_mac_list_names_every_bad_line_and_value():
    text = "AA:BB:CC:DD:EE:GG\naa:bb:cc:dd:ee:01\n\nnot-a-mac\nAABBCCDDEE01\n"
    with pytest.raises(LifecycleError) as excinfo:
        parse_mac_list(text)
    assert excinfo.value.messages == [
        'line 1: "AA:BB:CC:DD:EE:GG" is not a MAC address',
        'line 4: "not-a-mac" is not a MAC address',
        'line 5: "AABBCCDDEE01" is a duplicate of line 2',
    ]


def test_parse_mac_list_refuses_extra_columns_without_header():
    with pytest.raises(LifecycleError) as excinfo:
        parse_mac_list("aa:bb:cc:dd:ee:01,12345\n")
    assert excinfo.value.messages == ['line 1: "12345" is not a MAC address']


@pytest.mark.parametrize("data", ["", "\n\n  \n", "mac\n", codecs.BOM_UTF8])
def test_parse_mac_list_refuses_empty_input(data):
    with pytest.raises(LifecycleError, match="no MAC addresses"):
        parse_mac_list(data)


def test_parse_mac_list_refuses_binary_garbage():
    with pytest.raises(LifecycleError, match="not UTF-(8|16) text"):
        parse_mac_list(b"\xff\xfe\xfd" + b"\x00" * 3 + b"\x81")


def test_parse_mac_list_refuses_invalid_utf8():
    with pytest.raises(LifecycleError, match="not UTF-8 text"):
        parse_mac_list(b"aa:bb:cc:dd:ee:01\n\xc3\x28\n")
