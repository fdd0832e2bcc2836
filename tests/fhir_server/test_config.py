"""Configuration: environment variables validated at start-up."""

from __future__ import annotations

import pytest

from fhir_server.config import DEFAULT_DATABASE_URL, ConfigError, load_settings


def test_defaults_use_embedded_sqlite() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.base_url is None


def test_environment_overrides_and_trailing_slash() -> None:
    settings = load_settings(
        environ={"FHIR_SERVER_BASE_URL": "https://ehr.example.org/fhir/", "FHIR_SERVER_MAX_BODY_BYTES": "4096"}
    )
    assert settings.base_url == "https://ehr.example.org/fhir"
    assert settings.max_body_bytes == 4096


def test_invalid_values_fail_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"FHIR_SERVER_MAX_BODY_BYTES": "lots", "FHIR_SERVER_BASE_URL": "ftp://x"})
    message = str(error.value)
    assert "FHIR_SERVER_MAX_BODY_BYTES" in message and "FHIR_SERVER_BASE_URL" in message


def test_config_file_supplies_defaults(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "server.json"  # type: ignore[operator]
    path.write_text('{"default_page_size": 7}')
    assert load_settings(environ={"FHIR_SERVER_CONFIG_FILE": str(path)}).default_page_size == 7
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_settings(environ={"FHIR_SERVER_CONFIG_FILE": str(path) + ".missing"})


def test_r4b_crosscheck_is_on_unless_turned_off() -> None:
    assert load_settings(environ={}).r4b_crosscheck is True
    assert load_settings(environ={"FHIR_SERVER_R4B_CROSSCHECK": "false"}).r4b_crosscheck is False


def test_server_state_applies_the_r4b_setting_to_the_process(tmp_path: pytest.TempPathFactory) -> None:
    import conformance.validation as validation
    from fhir_server.state import ServerState

    url = f"sqlite:///{tmp_path}/state.sqlite3"
    try:
        state = ServerState.from_settings(
            load_settings(environ={"FHIR_SERVER_DATABASE_URL": url, "FHIR_SERVER_R4B_CROSSCHECK": "0"})
        )
        state.engine.dispose()
        assert validation._r4b_crosscheck is False
    finally:
        validation.set_r4b_crosscheck(True)
