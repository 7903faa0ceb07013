"""Configuration: TOML file, environment overrides, and errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dispatch.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
STRONG = "kV3q-9xZr_Lm2Tn8Wb5Yc1Hd7Fg4Jp6S"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SANSHE_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sanshe.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_matches_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    example = ROOT / "config.example.toml"
    monkeypatch.setenv("SANSHE_CONFIG", str(example))
    loaded = load_settings()
    assert loaded.model_dump() == Settings().model_dump()
    # Every settings field appears in the example file, and nothing else does.
    data = tomllib.loads(example.read_text(encoding="utf-8"))
    for name, field in Settings.model_fields.items():
        assert name in data, f"config.example.toml lacks {name}"
        sub = getattr(field.annotation, "model_fields", None)
        if sub:
            assert set(data[name]) == set(sub), f"[{name}] keys differ from the settings"


def test_example_config_comments_every_key() -> None:
    lines = (ROOT / "config.example.toml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            above = lines[i - 1].strip()
            assert above.startswith("#") or ("=" in above and not above.startswith("#")), (
                f"line {i + 1} ({line.strip()}) has no comment above it"
            )


def test_file_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        'database_url = "sqlite:///a.db"\n[server]\nport = 9001\n'
        '[twilio]\nenabled = true\naccount_sid = "AC1"\nauth_token = "t"\nfrom_number = "+8613800000000"\n',
    )
    monkeypatch.setenv("SANSHE_CONFIG", str(path))
    monkeypatch.setenv("SANSHE_DATABASE_URL", "postgresql+psycopg://u:p@h/db")
    monkeypatch.setenv("SANSHE_SERVER__PORT", "9002")
    s = load_settings()
    assert s.database_url == "postgresql+psycopg://u:p@h/db"
    assert s.server.port == 9002
    assert s.twilio.enabled is True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('database_url = "not a url"\n', "database_url"),
        ('database_url = "mysql://u@h/db"\n', "database_url"),
        ("[server]\nport = 70000\n", "server.port"),
        ('[server]\nport = "eighty"\n', "server.port"),
        ("[server]\nprot = 8000\n", "server.prot"),
        ("colour = 1\n", "colour"),
        ('[locale]\ntimezone = "Mars/Base"\n', "locale.timezone"),
        ('[auth]\njwt_secret = "short"\n', "auth.jwt_secret"),
        ("[twilio]\nenabled = true\n", "twilio"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, key: str
) -> None:
    monkeypatch.setenv("SANSHE_CONFIG", str(write(tmp_path, text)))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert key in str(err.value)


def test_bad_env_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANSHE_TRACKING__TICK_SECONDS", "soon")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "tracking.tick_seconds" in str(err.value)


def test_missing_file_and_bad_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANSHE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="no such file"):
        load_settings()
    monkeypatch.setenv("SANSHE_CONFIG", str(write(tmp_path, "[server\n")))
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings()


def test_production_refuses_demo_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANSHE_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="jwt_secret"):
        load_settings()
    monkeypatch.setenv("SANSHE_AUTH__JWT_SECRET", "a-real-secret-that-is-long-enough-0123")
    assert load_settings().environment == "production"


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("change-me-demo-only-secret-change-me", "demo secret"),
        ("CHANGE-ME-please-i-will-change-it-later", "demo secret"),
        ("a" * 32, "fewer than 8 different"),
        ("abcdefg" * 5, "fewer than 8 different"),
        ("0123456789abcdef" * 2, "repeats a shorter pattern"),
    ],
)
def test_production_refuses_weak_secrets(monkeypatch: pytest.MonkeyPatch, secret: str, why: str) -> None:
    monkeypatch.setenv("SANSHE_AUTH__JWT_SECRET", secret)
    assert load_settings().auth.jwt_secret == secret  # development takes it
    monkeypatch.setenv("SANSHE_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match=f"auth.jwt_secret: it .*{why}"):
        load_settings()


def test_a_short_secret_is_refused_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANSHE_AUTH__JWT_SECRET", "x7#Kq9!mZ2@vL4$w")
    with pytest.raises(ConfigError, match="auth.jwt_secret"):
        load_settings()


def test_create_app_refuses_a_weak_secret_in_production() -> None:
    """Also when a server hands ``create_app`` settings it built itself."""
    from dispatch.app import create_app

    weak = Settings(environment="production", auth={"jwt_secret": "a" * 32})
    with pytest.raises(ConfigError, match="auth.jwt_secret"):
        create_app(weak)
    create_app(weak.model_copy(update={"auth": weak.auth.model_copy(update={"jwt_secret": STRONG})}))
