from cnnbook.exercises import answer_or_solution


def test_the_students_answer_wins_and_none_falls_back_to_the_solution(capsys):
    assert answer_or_solution(3, 5, "Exercise 1") == 3
    assert "checking your answer" in capsys.readouterr().out
    assert answer_or_solution(None, 5, "Exercise 1") == 5
    assert "no answer yet, checking the hidden solution" in capsys.readouterr().out
    assert answer_or_solution(0, 5) == 0  # a falsy answer is still an answer
