module goexit

go 1.15
