from pathlib import Path

import pytest

from connectors.common.errors import ConfigError
from connectors.config import DEFAULT_CONFIG, interpolate, load_config
from connectors.registry import CHANNELS

REPO = Path(__file__).resolve().parent.parent


def test_interpolation_uses_env_then_default_and_reports_variables():
    value, used = interpolate("${A:-x}/${B:-${C:-deep}}", "here", {"A": "1"})
    assert value == "1/deep"
    assert used == ["A", "B", "C"]


def test_missing_variable_names_the_variable_and_the_place():
    with pytest.raises(ConfigError, match=r"shops\[0\].*SHOPIFY_TOKEN is not set"):
        interpolate("${SHOPIFY_TOKEN}", "cfg.toml: shops[0]", {})


def test_sandbox_default_needs_no_environment():
    config = load_config(DEFAULT_CONFIG, env={})
    assert set(config.channels()) == set(CHANNELS), "the sandbox serves every registered channel"
    shop = config.shops_for("tmall")[0]
    assert shop.credential("session").startswith("sandbox-session-")
    assert shop.env_var_for("session") == "OMNI_TMALL_FLAGSHIP_SESSION"
    assert "sandbox-session" not in repr(shop), "credentials must never appear in a repr"


def test_example_config_names_every_missing_credential(tmp_path):
    with pytest.raises(ConfigError, match="OMNI_PII_KEY"):
        load_config(REPO / "config" / "example.toml", env={})
    env = {
        "OMNI_PII_KEY": "k",
        "SHOPIFY_GLOBAL_ACCESS_TOKEN": "t",
        "TOP_APP_KEY": "a",
        "TOP_APP_SECRET": "s",
        "TMALL_FLAGSHIP_SESSION": "x",
        "TAOBAO_STORE_SESSION": "y",
        "JD_APP_KEY": "a",
        "JD_APP_SECRET": "s",
        "JD_POP_ACCESS_TOKEN": "t",
        "PDD_CLIENT_ID": "c",
        "PDD_CLIENT_SECRET": "s",
        "PDD_STORE_ACCESS_TOKEN": "t",
        "DOUYIN_APP_KEY": "a",
        "DOUYIN_APP_SECRET": "s",
        "DOUYIN_SHOP_ACCESS_TOKEN": "t",
        "YOUZAN_CLIENT_ID": "c",
        "YOUZAN_CLIENT_SECRET": "s",
        "ALIBABA_1688_APP_KEY": "a",
        "ALIBABA_1688_APP_SECRET": "s",
        "ALIBABA_1688_ACCESS_TOKEN": "t",
        "MEITUAN_APP_ID": "a",
        "MEITUAN_APP_SECRET": "s",
        "POS_DATABASE_URL": "sqlite://",
    }
    assert {s.channel for s in load_config(REPO / "config" / "example.toml", env=env).shops} == set(CHANNELS)
    documented = (REPO / ".env.example").read_text()
    for name in env:
        assert name in documented, f"{name} is used by config/example.toml but not listed in .env.example"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[shops]]\nchannel = "amazon"\nshop_id = "x"\n', "unknown channel 'amazon'"),
        ('[[shops]]\nchannel = "shopify"\n', "needs 'channel' and 'shop_id'"),
        (
            '[[shops]]\nchannel = "pos"\nshop_id = "a"\n[[shops]]\nchannel = "pos"\nshop_id = "a"\n',
            "declared twice",
        ),
        ("[[shops]\n", "not valid TOML"),
        ('[[traffic]]\nsource = "baidu"\nchannel = "pos"\nshop_id = "a"\n', "unknown traffic source 'baidu'"),
        (
            '[[traffic]]\nsource = "ga4"\nchannel = "jd"\nshop_id = "jd-pop"\n',
            "traffic source 'ga4' does not describe jd shops",
        ),
        (
            '[[traffic]]\nsource = "pos_footfall"\nchannel = "pos"\nshop_id = "pos-main"\n',
            r"shop pos/pos-main is not declared under \[\[shops\]\]",
        ),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, body, message):
    path = tmp_path / "cfg.toml"
    path.write_text('[pipeline]\npii_key = "k"\n' + body)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["run", "--start", "2026-13-01", "--end", "2026-11-02"],
            "argument --start: '2026-13-01' is not a date",
        ),
        (
            ["run", "--start", "2026-11-05", "--end", "2026-11-01"],
            "--end 2026-11-01 is before --start 2026-11-05",
        ),
    ],
)
def test_malformed_dates_on_the_command_line_are_one_clear_error(argv, message, capsys):
    from pipelines.cli import main

    try:
        code = main(argv)
    except SystemExit as exited:  # argparse's own errors
        code = exited.code
    assert code not in (0, None)
    assert message in capsys.readouterr().err


def test_a_malformed_database_url_names_the_option(tmp_path):
    from connectors.common.errors import FatalError
    from connectors.common.pii import PiiHasher
    from connectors.config import ShopConfig
    from connectors.pos.source import PosSource

    shop = ShopConfig("pos", "pos-main", {"database_url": "not-a-url"}, {}, {})
    with pytest.raises(
        FatalError, match=r"\[pos/pos-main\] option database_url is not a valid SQLAlchemy URL"
    ):
        PosSource(shop, PiiHasher("k"))
