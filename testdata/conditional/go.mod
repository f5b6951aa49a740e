module conditional

go 1.19
