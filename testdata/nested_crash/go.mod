module nested_crash

go 1.15
