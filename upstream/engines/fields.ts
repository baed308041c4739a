// Request fields beyond OpenAI's that the open-weight servers read (their sampling extensions).
export const OPEN_WEIGHT_SAMPLING = ['top_k', 'min_p', 'repetition_penalty', 'min_tokens', 'ignore_eos'] as const;
/** vLLM's structured-output fields (its OpenAI protocol's extensions), which the simulator reads too. */
export const VLLM_GUIDED = ['guided_json', 'guided_choice', 'guided_regex', 'guided_grammar', 'structured_outputs'] as const;

export const listedAs = (listed: readonly string[], model: string) => listed.includes(model);
