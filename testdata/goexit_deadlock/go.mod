module goexit_deadlock

go 1.15
