module recover_patterns

go 1.15
