module goroutines

go 1.15
