module seed_child_crash

go 1.15
