"""Shared pytest setup. Fixture modules live in tests/fixtures and are registered here."""

pytest_plugins: list[str] = ["tests.fixtures.cluster", "tests.fixtures.services"]
