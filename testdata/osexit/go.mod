module osexit

go 1.15
