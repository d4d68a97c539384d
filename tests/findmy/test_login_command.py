"""`manage.py findmy_account login` in its own process, against the simulator over HTTP."""

from findmy.models import AccountLogin, AppleAccount

from .conftest import APPLE_CODE, APPLE_ID, APPLE_PASSWORD


def login_args(*extra):
    return [
        "findmy_account",
        "login",
        "fleet-cli",
        "--username",
        APPLE_ID,
        "--password-stdin",
        *extra,
    ]


def test_command_logs_in_with_trusted_device_code(apple, run_command):
    server = apple(second_factor="trusted_device")
    result = run_command(
        *login_args("--method", "trusted_device", "--code", APPLE_CODE),
        input=APPLE_PASSWORD + "\n",
    )
    assert "A code is shown on the account's trusted devices." in result.stdout
    assert "logged in fleet-cli (dsid 1000000001); password kept encrypted" in result.stdout
    account = AppleAccount.objects.get(name="fleet-cli")
    assert account.session.search_party_token in server.issued_tokens
    for secret in [APPLE_PASSWORD, APPLE_CODE, *server.issued_secrets]:
        assert secret not in result.stdout + result.stderr


def test_command_logs_in_by_sms_to_the_chosen_phone(apple, run_command):
    apple(second_factor="sms")
    result = run_command(
        *login_args(
            "--method", "sms", "--phone-id", "2", "--code", APPLE_CODE, "--forget-password"
        ),
        input=APPLE_PASSWORD + "\n",
    )
    assert "phone 2: +1 ••• •••••23" in result.stdout
    assert "A code was sent by SMS to +1 ••• •••••23." in result.stdout
    assert "password not kept" in result.stdout
    assert not AppleAccount.objects.get(name="fleet-cli").keeps_password


def test_command_reports_a_wrong_password_and_saves_nothing(apple, run_command):
    apple()
    result = run_command(*login_args(), input="wrong-password\n", check=False)
    assert result.returncode == 1
    assert "Apple refused the password for 'owner@example.com'" in result.stderr
    assert "wrong-password" not in result.stdout + result.stderr
    assert not AppleAccount.objects.exists()


def test_command_reports_a_wrong_code_and_leaves_no_login_behind(apple, run_command):
    apple(second_factor="trusted_device")
    result = run_command(
        *login_args("--method", "trusted_device", "--code", "000000"),
        input=APPLE_PASSWORD + "\n",
        check=False,
    )
    assert result.returncode == 1
    assert "Apple refused the code" in result.stderr
    assert not AppleAccount.objects.exists()
    assert not AccountLogin.objects.exists()


def test_command_without_terminal_asks_for_the_missing_choice(apple, run_command):
    apple(second_factor="trusted_device")
    result = run_command(*login_args(), input=APPLE_PASSWORD + "\n", check=False)
    assert result.returncode == 1
    assert "No terminal to ask: Second factor (trusted_device or sms)" in result.stderr
