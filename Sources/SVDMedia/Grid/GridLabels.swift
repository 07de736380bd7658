/// The text of each cell's label: the chosen recipe values, or the file name for a clip without a recipe.
struct GridLabels {
    /// The keys shown (the resolved default when none were asked for).
    let keys: [String]
    /// False when labels were switched off with an empty key list.
    let showsCellLabels: Bool
    /// Per clip: "key=value" items, or the file name.
    let cellItems: [[String]]
    /// Per clip, for the contact sheet: the file name, then the values.
    let sheetItems: [[String]]

    init(sources: [GridSource], keys requested: [String]?) throws {
        let values = sources.map { $0.recipe.map(RecipeValues.init) }
        let known = values.compactMap { $0 }
        let keys = requested ?? RecipeValues.differingKeys(known)
        if !known.isEmpty {
            let unknown = keys.filter { key in known.allSatisfy { $0.value(of: key) == nil } }
            if !unknown.isEmpty {
                throw GridError.unknownLabelKeys(unknown, known: known[0].parameterKeys + RecipeValues.aliases.keys.sorted())
            }
        }
        self.keys = keys
        showsCellLabels = requested.map { !$0.isEmpty } ?? true
        let recipeItems = values.map { $0.map { $0.labelItems(keys: keys) } ?? [] }
        cellItems = zip(sources, recipeItems).map { source, items in
            items.isEmpty ? [source.name] : items
        }
        sheetItems = zip(sources, recipeItems).map { source, items in [source.name] + items }
    }
}
