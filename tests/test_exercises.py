from cnnbook.exercises import answered


def test_an_answer_is_checked_and_none_is_not_attempted(capsys):
    assert answered(3, "Exercise 1") is True
    assert answered(0, "Exercise 1") is True  # a falsy answer is still an answer
    assert capsys.readouterr().out == ""
    assert answered(None, "Exercise 2") is False
    assert capsys.readouterr().out == "Exercise 2: not attempted yet\n"
