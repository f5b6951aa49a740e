module goroutine_crash

go 1.15
