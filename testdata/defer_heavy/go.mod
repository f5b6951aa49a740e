module defer_heavy

go 1.15
