module seed_deadlock

go 1.15
