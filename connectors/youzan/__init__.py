"""Youzan 有赞 connector: the brand's mini-program store (channel `mini_program`)."""
