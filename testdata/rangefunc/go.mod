module rangefunc

go 1.23
