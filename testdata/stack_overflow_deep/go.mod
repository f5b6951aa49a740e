module stack_overflow_deep

go 1.15
