import type { Language } from "../i18n/negotiate.ts";

/** An everyday recipe: the innocuous content of the quick exit's neutral page. */
export interface Recipe {
  title: string;
  intro: string;
  facts: string;
  ingredientsTitle: string;
  ingredients: readonly string[];
  stepsTitle: string;
  steps: readonly string[];
}

/**
 * The neutral page's recipe in each language. Kept out of the i18n dictionaries on purpose:
 * nothing on that page may share words or keys with the counselling site.
 */
export const RECIPES: Readonly<Record<Language, Recipe>> = {
  de: {
    title: "Einfacher Apfelkuchen vom Blech",
    intro: "Ein saftiger Kuchen für jeden Tag, schnell gemacht und mit Zutaten, die man meistens im Haus hat.",
    facts: "Für 1 Blech (etwa 20 Stücke) · Zubereitung 25 Minuten · Backzeit 35 Minuten",
    ingredientsTitle: "Zutaten",
    ingredients: [
      "1 kg Äpfel",
      "250 g weiche Butter",
      "200 g Zucker",
      "1 Päckchen Vanillezucker",
      "4 Eier",
      "400 g Mehl",
      "1 Päckchen Backpulver",
      "150 ml Milch",
      "1 TL Zimt",
    ],
    stepsTitle: "Zubereitung",
    steps: [
      "Den Backofen auf 180 °C Ober- und Unterhitze vorheizen und das Blech mit Backpapier auslegen.",
      "Die Äpfel schälen, entkernen und in dünne Spalten schneiden.",
      "Butter, Zucker und Vanillezucker cremig rühren, dann die Eier einzeln unterrühren.",
      "Mehl und Backpulver mischen und abwechselnd mit der Milch unter den Teig rühren.",
      "Den Teig auf dem Blech verstreichen, die Apfelspalten darauflegen und mit Zimt bestreuen.",
      "Etwa 35 Minuten backen, bis der Kuchen goldbraun ist. Auf dem Blech abkühlen lassen.",
    ],
  },
  en: {
    title: "Easy apple traybake",
    intro: "A moist everyday cake, quick to make with ingredients you probably already have at home.",
    facts: "Makes 1 tray (about 20 pieces) · Preparation 25 minutes · Baking 35 minutes",
    ingredientsTitle: "Ingredients",
    ingredients: [
      "1 kg apples",
      "250 g soft butter",
      "200 g sugar",
      "1 sachet vanilla sugar",
      "4 eggs",
      "400 g flour",
      "1 sachet baking powder",
      "150 ml milk",
      "1 tsp cinnamon",
    ],
    stepsTitle: "Method",
    steps: [
      "Preheat the oven to 180 °C (conventional) and line the tray with baking paper.",
      "Peel and core the apples and cut them into thin slices.",
      "Beat the butter, sugar and vanilla sugar until creamy, then beat in the eggs one at a time.",
      "Mix the flour and baking powder and stir into the batter, alternating with the milk.",
      "Spread the batter on the tray, top with the apple slices and sprinkle with cinnamon.",
      "Bake for about 35 minutes until golden brown. Leave to cool on the tray.",
    ],
  },
};
