
#compdef mmo

_mmo_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _MMO_COMPLETE=complete_zsh mmo)
}

compdef _mmo_completion mmo

