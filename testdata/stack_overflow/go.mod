module stack_overflow

go 1.15
