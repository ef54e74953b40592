# completion.bash — bash completion for `lakehouse`.
#
# Installed by `make install` as share/bash-completion/completions/lakehouse
# (bash-completion loads it on first use); from a checkout:
#
#   source scripts/completion.bash
#
# Completes the commands, each command's actions, the values of enumerated
# options, files and folders where a path is expected, and setting names
# after --set. Commands, actions and option names are read from the --help of
# the binary being completed, so they follow the binary.

# The commands, from `lakehouse --help` ("  catalog    datasets and ...").
_lakehouse_commands() {
    "$1" --help 2>/dev/null | sed -nE 's/^  ([a-z]+) .*/\1/p' | tr '\n' ' '
    echo help
}

# The actions of the commands that take one.
# The actions of COMMAND: the commands generated from the operation table list
# them in their help ("  catalog show NAME"); config has two of its own.
_lakehouse_actions() {
    case $2 in
        catalog | index | storage | journal | profile | view | workspace | draft | trial | playbook | pathway)
            "$1" "$2" --help 2>/dev/null | sed -nE "s/^  $2 ([a-z-]+).*/\1/p" | tr '\n' ' ' ;;
        config) echo "show keys" ;;
    esac
}

declare -gA _lakehouse_flag_cache 2>/dev/null || true

# The options of COMMAND, from `BIN COMMAND --help` (cached per binary and command).
_lakehouse_flags() {
    local bin=$1 cmd=$2 key="$1 $2" flags
    if [ -n "${_lakehouse_flag_cache[$key]+set}" ]; then
        echo "${_lakehouse_flag_cache[$key]}"
        return
    fi
    flags=$("$bin" $cmd --help 2>/dev/null | grep -oE -- '(^|[[:space:][(|])--[a-z][a-z0-9-]*' |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
    [ -n "$flags" ] || flags="--config --data --set --log-level --help"
    _lakehouse_flag_cache[$key]=$flags
    echo "$flags"
}

# Setting names for --set KEY=VALUE, from `lakehouse config keys`.
_lakehouse_settings() {
    "$1" config keys 2>/dev/null | sed -nE 's/^  ([a-z_]+\.[a-z_.]+) .*/\1=/p'
}

_lakehouse() {
    local cur prev bin cmd i word
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    bin=${COMP_WORDS[0]}
    COMPREPLY=()

    # The command is the first word after the program that is not an option.
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in -*) continue ;; esac
        cmd=$word
        break
    done

    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--help --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_lakehouse_commands "$bin")" -- "$cur"))
        fi
        return 0
    fi

    # Values of the options that take one.
    case $prev in
        --config | --body)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --data | --out)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$cur"))
            return 0
            ;;
        --log-level)
            COMPREPLY=($(compgen -W "debug info warn error" -- "$cur"))
            return 0
            ;;
        --set)
            compopt -o nospace 2>/dev/null
            COMPREPLY=($(compgen -W "$(_lakehouse_settings "$bin")" -- "$cur"))
            return 0
            ;;
        -f | --format)
            if [ "$cmd" = ingest ]; then
                COMPREPLY=($(compgen -W "csv tsv json ndjson parquet text markdown pdf" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "table json ndjson csv" -- "$cur"))
            fi
            return 0
            ;;
        --mode)
            if [ "$cmd" = ingest ]; then
                COMPREPLY=($(compgen -W "append replace" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "hybrid vector text" -- "$cur"))
            fi
            return 0
            ;;
        --metric)
            COMPREPLY=($(compgen -W "l2 cosine ip" -- "$cur"))
            return 0
            ;;
        --quantization)
            COMPREPLY=($(compgen -W "none sq8" -- "$cur"))
            return 0
            ;;
        --fusion)
            COMPREPLY=($(compgen -W "weighted rrf" -- "$cur"))
            return 0
            ;;
        --refresh)
            COMPREPLY=($(compgen -W "manual on_append" -- "$cur"))
            return 0
            ;;
        --provider)
            COMPREPLY=($(compgen -W "local hash ollama openai" -- "$cur"))
            return 0
            ;;
        --listen | --dataset | -d | --id | --vector | --text | --template | --model | --bucket | \
            --message | --actor | --reason | --description | --column | --index | --k | --ef | \
            --m | --ef-construction | --ef-search | --seed | --weight | --filter | --rows | \
            --max-rows | --timeout-ms | --limit | --since | --version | --dataset-version | \
            --chunk-chars | --chunk-overlap | --profile | --api-key)
            return 0 # a value only the user knows
            ;;
    esac

    if [[ $cur == -* ]]; then
        # commands with actions list an action's options in `CMD ACTION --help`
        local action=
        if [ -n "$(_lakehouse_actions "$bin" "$cmd")" ]; then
            for ((i = i + 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in -*) continue ;; esac
                action=${COMP_WORDS[i]}
                break
            done
        fi
        COMPREPLY=($(compgen -W "$(_lakehouse_flags "$bin" "$cmd${action:+ $action}")" -- "$cur"))
        return 0
    fi

    # The word right after the command: its action, a command name for help,
    # files for ingest.
    local actions
    actions=$(_lakehouse_actions "$bin" "$cmd")
    if [ "$cmd" = help ] && [ "$prev" = help ]; then
        COMPREPLY=($(compgen -W "$(_lakehouse_commands "$bin")" -- "$cur"))
    elif [ -n "$actions" ] && [ "$prev" = "$cmd" ]; then
        COMPREPLY=($(compgen -W "$actions" -- "$cur"))
    elif [ "$cmd" = ingest ] || [ "$cmd" = storage ]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}

complete -F _lakehouse lakehouse bin/lakehouse ./bin/lakehouse
