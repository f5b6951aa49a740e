module signals

go 1.15
