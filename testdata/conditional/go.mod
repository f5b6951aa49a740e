module conditional

go 1.15
