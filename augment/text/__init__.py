"""The text plugin and its transforms: noise, WordNet synonyms, language-model swaps, rare words."""
