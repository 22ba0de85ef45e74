-- A category or tag name names one entry: two "Billing" categories cannot be told apart in a
-- list or by a customer choosing one. Names are compared exactly (after the trimming every
-- entry point does), the same on both backends.
-- Desks that already have duplicates keep every entry and every ticket's choice: the oldest
-- entry keeps the name, each later one gets its id appended ("Billing (7)") for an
-- administrator to rename or deactivate.
UPDATE categories SET name = name || ' (' || id || ')'
WHERE id NOT IN (SELECT MIN(id) FROM categories GROUP BY name);
UPDATE tags SET name = name || ' (' || id || ')'
WHERE id NOT IN (SELECT MIN(id) FROM tags GROUP BY name);
CREATE UNIQUE INDEX categories_name_unique ON categories (name);
CREATE UNIQUE INDEX tags_name_unique ON tags (name);
