"""The rule language: definition files parsed, checked and turned into a `RuleSet`."""
